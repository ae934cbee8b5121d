import type { NormalizationEvents, NormalizationOutcome } from '../core/ports.js';
import type { Logger } from '../log.js';
import { InProcessNotifications, type OutcomeNotifications } from './outcome-notifications.js';

type Listener = (outcome: NormalizationOutcome) => void;

/**
 * In-process fan-out of normalization outcomes (enhanced-mode MLLP ACKs, tests). Synchronous and
 * best effort: a listener that throws is logged and skipped, never allowed to stop the worker or
 * the other listeners. Outcomes are not buffered: a subscriber sees only what happens after it
 * subscribed (the durable answer is the OperationOutcome record, see record-writer.ts).
 * With `remote` (Redis: several processes), what this process publishes also goes to the others,
 * and what they publish reaches this process's listeners once `start()` resolved.
 */
export class NormalizationEventBus implements NormalizationEvents {
  readonly #listeners = new Set<Listener>();
  readonly #log: Logger | undefined;
  readonly #remote: OutcomeNotifications;

  /**
   * @param options - log: where listener failures are reported (code only); remote: the
   *   cross-process port (default: in-process only)
   */
  constructor(options: { log?: Logger; remote?: OutcomeNotifications } = {}) {
    this.#log = options.log;
    this.#remote = options.remote ?? new InProcessNotifications();
  }

  /** Starts receiving other processes' outcomes; resolves once subscribed. */
  start(): Promise<void> {
    return this.#remote.start((o) => this.#deliver(o));
  }

  /** Stops receiving and sending across processes; local publish keeps working. */
  close(): Promise<void> {
    return this.#remote.close();
  }

  subscribe(listener: Listener): () => void {
    // Wrapped so the same function can subscribe twice and unsubscribe each independently.
    const entry: Listener = (o) => listener(o);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Delivers one outcome to every current listener, and to the other processes. */
  publish(outcome: NormalizationOutcome): void {
    this.#deliver(outcome);
    this.#remote.publish(outcome);
  }

  #deliver(outcome: NormalizationOutcome): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(outcome);
      } catch (err) {
        this.#log?.error({ err, rawId: outcome.rawId }, 'normalization listener failed');
      }
    }
  }

  /** Resolves with the first outcome for rawId published from now on. */
  waitFor(rawId: string, signal?: AbortSignal): Promise<NormalizationOutcome> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        off();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const off = this.subscribe((o) => {
        if (o.rawId !== rawId) return;
        off();
        signal?.removeEventListener('abort', onAbort);
        resolve(o);
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
