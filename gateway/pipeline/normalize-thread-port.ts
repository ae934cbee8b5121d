import type { NormalizationOutcome } from '../core/ports.js';
import type { NormalizeMetrics, OutcomePublisher } from './normalize-worker.js';

/** Main thread → normalize thread. */
export type ToNormalizeThread = { kind: 'notify' } | { kind: 'stop' };

/** What a normalize thread did since its last report: outcomes to publish and metrics to count. */
export interface NormalizeReport {
  kind: 'report';
  outcomes: NormalizationOutcome[];
  /** [format, outcome, count] */
  items: Array<[string, string, number]>;
  /** [resource type, status, count] */
  records: Array<[string, string, number]>;
  seconds: number[];
}

/** Normalize thread → main thread. */
export type FromNormalizeThread =
  | NormalizeReport
  | { kind: 'ready' }
  | { kind: 'start-failed'; code: string }
  | { kind: 'log'; line: string }
  | { kind: 'stopped' };

/**
 * The normalize thread's side of the port: the worker publishes outcomes and counts metrics here;
 * everything of one turn (a committed batch) goes to the main thread as one message, where the
 * event bus and /metrics live. Outcomes keep their order.
 */
export class ThreadReporter implements OutcomePublisher, NormalizeMetrics {
  readonly #post: (report: NormalizeReport) => void;
  #outcomes: NormalizationOutcome[] = [];
  #items = new Map<string, [string, string, number]>();
  #records = new Map<string, [string, string, number]>();
  #seconds: number[] = [];
  #queued = false;

  readonly normalizeOutcomes = { inc: (l: { format: string; outcome: string }, n = 1): void => this.#count(this.#items, l.format, l.outcome, n) };
  readonly normalizeRecords = { inc: (l: { type: string; status: string }, n = 1): void => this.#count(this.#records, l.type, l.status, n) };
  readonly normalizeSeconds = {
    observe: (seconds: number): void => {
      this.#seconds.push(seconds);
      this.#schedule();
    },
  };

  /** @param post - sends one report to the main thread */
  constructor(post: (report: NormalizeReport) => void) {
    this.#post = post;
  }

  publish(outcome: NormalizationOutcome): void {
    this.#outcomes.push(outcome);
    this.#schedule();
  }

  /** Sends what is pending now (the thread is about to stop). */
  flush(): void {
    this.#queued = false;
    if (this.#outcomes.length === 0 && this.#items.size === 0 && this.#records.size === 0 && this.#seconds.length === 0) return;
    const report: NormalizeReport = {
      kind: 'report', outcomes: this.#outcomes, items: [...this.#items.values()], records: [...this.#records.values()], seconds: this.#seconds,
    };
    this.#outcomes = [];
    this.#items = new Map();
    this.#records = new Map();
    this.#seconds = [];
    this.#post(report);
  }

  #count(into: Map<string, [string, string, number]>, a: string, b: string, n: number): void {
    const key = `${a}\u0000${b}`;
    const entry = into.get(key);
    if (entry) entry[2] += n;
    else into.set(key, [a, b, n]);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#queued) return;
    this.#queued = true;
    queueMicrotask(() => this.flush());
  }
}

/** The main thread's side: what a report changes there. */
export function applyReport(report: NormalizeReport, to: { events: OutcomePublisher; metrics?: NormalizeMetrics }): void {
  const m = to.metrics;
  if (m) {
    for (const [format, outcome, n] of report.items) m.normalizeOutcomes.inc({ format, outcome }, n);
    for (const [type, status, n] of report.records) m.normalizeRecords.inc({ type, status }, n);
    for (const s of report.seconds) m.normalizeSeconds.observe(s);
  }
  for (const outcome of report.outcomes) to.events.publish(outcome);
}
