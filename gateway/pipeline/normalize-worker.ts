import type { Normalized, NormalizationOutcome, Normalizer, Store } from '../core/ports.js';
import type { Format, Lease, RawMessage } from '../core/types.js';
import type { Issue } from '../core/issues.js';
import { isGatewayError } from '../core/errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { NormalizationEventBus } from './normalization-events.js';
import { readOutcome, writeOutcome } from './normalization-outcome.js';
import { writeRecords, type RouteFn } from './record-writer.js';
import { NORMALIZE_QUEUE } from './intake.js';

/** The store queue the intake feeds: items `{ id: rawId, payload: { rawId } }` (defined once, in intake.ts). */
export { NORMALIZE_QUEUE };

/** Options for {@link NormalizeWorker}; every limit has a default. */
export interface NormalizeWorkerOptions {
  store: Store;
  /** One normalizer per format; gateway/** cannot import adapters/**, so main.ts passes them in. */
  normalizers: ReadonlyMap<Format, Normalizer>;
  log: Logger;
  metrics?: Metrics;
  /** Where outcomes are published (enhanced-mode ACKs subscribe there). */
  events?: NormalizationEventBus;
  /** Independent claim loops. Default 1. */
  concurrency?: number;
  /** Lease per claimed item; a crashed worker's item is re-claimed after it. Default 30 s. */
  leaseMs?: number;
  /** Sleep when the queue is empty, unless notify() comes first. Default 200 ms. */
  idleMs?: number;
  /** Attempts before an item whose store writes keep failing is dead-lettered. Default 8. */
  maxAttempts?: number;
  /** Destinations per record header (Router.route); they join each record's sharedWith. Default: none. */
  route?: RouteFn;
  /** Shared identity domain per feed (feeds.yaml identity.domain); other feeds match within their owner's records. */
  identityDomains?: ReadonlyMap<string, string>;
  /** Retry delay after attempt n is min(maxMs, baseMs * 2^(n-1)). Defaults 500 ms and 60 s. */
  backoff?: { baseMs?: number; maxMs?: number };
}

/**
 * Turns stored raws into canonical records. Each loop claims an item of the `normalize` queue,
 * runs the format's normalizer (pure, sync), stores the records in order with local references
 * rewritten (record-writer.ts), then writes the outcome (issues, record ids) as an OperationOutcome
 * record (normalization-outcome.ts), and only then completes the item. A crash before the outcome
 * is written re-runs the message after the lease expires, and putRecord's identifier matching makes
 * that replay idempotent; a raw whose outcome exists for the same mapping is not normalized again.
 *
 * Data problems (including a normalizer that throws) complete the item with issues: retrying would
 * give the same answer. Store failures retry with exponential backoff, then dead-letter.
 */
export class NormalizeWorker {
  readonly #o: Required<Omit<NormalizeWorkerOptions, 'metrics' | 'events' | 'backoff' | 'identityDomains'>> & Pick<NormalizeWorkerOptions, 'metrics' | 'events' | 'identityDomains'>;
  readonly #backoff: { baseMs: number; maxMs: number };
  readonly #wakers = new Set<() => void>();
  #loops: Promise<void>[] = [];
  #stopping = false;

  /** @param options - store, normalizers, log and limits (see NormalizeWorkerOptions) */
  constructor(options: NormalizeWorkerOptions) {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError('concurrency must be a positive integer');
    this.#o = {
      ...options,
      concurrency,
      leaseMs: options.leaseMs ?? 30_000,
      idleMs: options.idleMs ?? 200,
      maxAttempts: options.maxAttempts ?? 8,
      route: options.route ?? (() => []),
    };
    this.#backoff = { baseMs: options.backoff?.baseMs ?? 500, maxMs: options.backoff?.maxMs ?? 60_000 };
  }

  /** Starts the claim loops. Calling it twice is a no-op. */
  start(): void {
    if (this.#loops.length > 0 || this.#stopping) return;
    for (let lane = 0; lane < this.#o.concurrency; lane++) this.#loops.push(this.#loop(lane));
    this.#o.log.info({ concurrency: this.#o.concurrency, formats: [...this.#o.normalizers.keys()] }, 'normalize worker started');
  }

  /** Something was enqueued: wake idle loops now instead of after their sleep. */
  notify(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  /** Lets each loop finish the item it holds, then resolves. No new item is claimed. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.notify();
    await Promise.all(this.#loops);
    this.#o.log.info('normalize worker stopped');
  }

  async #loop(lane: number): Promise<void> {
    let claimFailures = 0;
    while (!this.#stopping) {
      let lease: Lease | undefined;
      try {
        lease = await this.#o.store.claim(NORMALIZE_QUEUE, this.#o.leaseMs);
        claimFailures = 0;
      } catch (err) {
        if (this.#stopping) return;
        // Store down: back off like a retry so an outage does not become a log flood.
        const delay = Math.min(this.#backoff.maxMs, this.#o.idleMs * 2 ** claimFailures++);
        this.#o.log.warn({ err, lane, attempt: claimFailures, retryInMs: delay }, 'normalize claim failed');
        await this.#idle(delay);
        continue;
      }
      if (lease === undefined) {
        await this.#idle();
        continue;
      }
      await this.#process(lease);
    }
  }

  #idle(ms: number = this.#o.idleMs): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }

  /** Never throws: every path ends in complete, fail, deadLetter or a logged lost lease. */
  async #process(lease: Lease): Promise<void> {
    const rawId = typeof lease.item.payload.rawId === 'string' ? lease.item.payload.rawId : lease.item.id;
    const started = process.hrtime.bigint();
    let format = 'unknown';
    try {
      const raw = await this.#o.store.getRaw(rawId);
      if (raw === undefined) {
        // An item pointing at no raw is a broken invariant, not a data problem: park it for a human.
        await this.#o.store.deadLetter(lease, 'PSL_NOT_FOUND');
        this.#o.log.error({ rawId, code: 'PSL_NOT_FOUND' }, 'normalize item has no raw');
        this.#finish(format, 'dead', started, { rawId, ok: false, recordIds: [], issues: [RAW_MISSING] });
        return;
      }
      format = raw.format;
      const mapping = this.#o.normalizers.get(raw.format)?.name ?? `${raw.format}:none`;
      const prior = await readOutcome(this.#o.store, raw.id);
      if (prior?.mapping === mapping) {
        // Already normalized by this mapping (a retransmitted duplicate re-queued by the intake, or a
        // crash after the outcome was written): redoing it could revert records that later messages
        // updated. Only a new mapping version re-derives a raw.
        await this.#o.store.complete(lease);
        this.#o.log.debug({ rawId, format, code: 'already-normalized' }, 'raw already normalized');
        this.#finish(format, 'already', started, prior.outcome);
        return;
      }
      const normalized = this.#normalize(raw);
      const written = normalized.ok ? await writeRecords(this.#o.store, raw, mapping, normalized.records, this.#o.route, this.#o.identityDomains?.get(raw.feed)) : { records: [], issues: [] };
      const reused: Issue[] = raw.controlIdReused
        ? [{ severity: 'warning', code: 'duplicate', where: 'sourceRef', message: 'control-id-reused: the feed sent this control id before with other content; stored as a new message' }]
        : [];
      const issues = [...reused, ...normalized.issues, ...written.issues];
      const ok = normalized.ok && !issues.some((i) => i.severity === 'fatal');
      const outcome: NormalizationOutcome = { rawId, ok, issues, recordIds: written.records.map((r) => r.id) };
      await writeOutcome(this.#o.store, raw, mapping, outcome);
      await this.#o.store.complete(lease);
      for (const r of written.records) this.#o.metrics?.normalizeRecords.inc({ type: r.resourceType, status: r.status });
      this.#o.log.debug({ rawId, format, ok, records: written.records.length, issues: issues.length, codes: codesOf(issues) }, 'raw normalized');
      this.#finish(format, ok ? 'ok' : 'rejected', started, outcome);
    } catch (err) {
      await this.#onStoreFailure(lease, rawId, format, started, err);
    }
  }

  #normalize(raw: RawMessage): Normalized {
    const normalizer = this.#o.normalizers.get(raw.format);
    if (normalizer === undefined) {
      return { ok: false, issues: [{ severity: 'fatal', code: 'not-supported', where: 'format', message: `no normalizer is configured for format ${raw.format}` }] };
    }
    try {
      return normalizer.normalize(raw);
    } catch (err) {
      // A mapping bug must not kill the worker or loop on the item: the same input throws again.
      const name = err instanceof Error ? err.name : typeof err;
      this.#o.log.error({ rawId: raw.id, code: 'exception', errName: name, mapping: normalizer.name }, 'normalizer threw');
      return { ok: false, issues: [{ severity: 'fatal', code: 'exception', where: normalizer.name, message: `the normalizer failed unexpectedly (${name}); the raw is kept for re-normalization` }] };
    }
  }

  async #onStoreFailure(lease: Lease, rawId: string, format: string, started: bigint, err: unknown): Promise<void> {
    const code = isGatewayError(err) ? err.code : 'PSL_INTERNAL';
    if (code === 'PSL_LEASE_LOST') {
      // Someone else holds the item now (our lease expired); they will finish it.
      this.#o.log.warn({ rawId, code, attempt: lease.attempt }, 'normalize lease lost');
      this.#o.metrics?.normalizeOutcomes.inc({ format, outcome: 'lease-lost' });
      return;
    }
    const retryable = !isGatewayError(err) || err.retryable;
    try {
      if (retryable && lease.attempt < this.#o.maxAttempts) {
        const delay = Math.min(this.#backoff.maxMs, this.#backoff.baseMs * 2 ** (lease.attempt - 1));
        await this.#o.store.fail(lease, { retryAt: Date.now() + delay, reason: code });
        this.#o.log.warn({ err, rawId, code, attempt: lease.attempt, retryInMs: delay }, 'normalize failed, will retry');
        this.#o.metrics?.normalizeOutcomes.inc({ format, outcome: 'retry' });
        return;
      }
      await this.#o.store.deadLetter(lease, code);
      this.#o.log.error({ err, rawId, code, attempt: lease.attempt }, 'normalize dead-lettered');
      const issue: Issue = { severity: 'fatal', code: 'exception', where: 'store', message: `normalized records could not be stored (${code}); the raw is kept and the item dead-lettered` };
      this.#finish(format, 'dead', started, { rawId, ok: false, recordIds: [], issues: [issue] });
    } catch (again) {
      // Even fail/deadLetter failed: the lease will expire and the item comes back on its own.
      this.#o.log.error({ err: again, rawId, code: isGatewayError(again) ? again.code : 'PSL_INTERNAL' }, 'normalize item left to its lease');
    }
  }

  #finish(format: string, outcome: 'ok' | 'rejected' | 'dead' | 'already', started: bigint, result: NormalizationOutcome): void {
    this.#o.metrics?.normalizeOutcomes.inc({ format, outcome });
    this.#o.metrics?.normalizeSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.#o.events?.publish(result);
  }
}

const RAW_MISSING: Issue = { severity: 'fatal', code: 'not-found', where: 'raw', message: 'the queued raw message does not exist in the store' };

function codesOf(issues: readonly Issue[]): string[] {
  return [...new Set(issues.map((i) => i.code))];
}
