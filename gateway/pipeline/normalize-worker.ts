import { randomUUID } from 'node:crypto';
import type { Normalized, NormalizationOutcome, Normalizer, RecordTxn, Store } from '../core/ports.js';
import type { Format, Lease, RawMessage } from '../core/types.js';
import type { Issue } from '../core/issues.js';
import { isGatewayError } from '../../protocol/errors.js';
import type { Logger } from '../log.js';
import { outcomeRecord, readOutcome } from './normalization-outcome.js';
import { writeRecordsIn, type RouteFn, type WrittenRecord } from './record-writer.js';
import { NORMALIZE_QUEUE } from './intake.js';
import type { AsyncNormalizer } from './normalize-pool.js';

/** The store queue the intake feeds: items `{ id: rawId, payload: { rawId } }` (defined once, in intake.ts). */
export { NORMALIZE_QUEUE };

/** The metrics the worker feeds (Metrics has them; a normalize thread forwards them to the main thread's). */
export interface NormalizeMetrics {
  normalizeOutcomes: { inc(labels: { format: string; outcome: string }, value?: number): void };
  normalizeRecords: { inc(labels: { type: string; status: string }, value?: number): void };
  normalizeSeconds: { observe(seconds: number): void };
}

/** Where outcomes go once committed (NormalizationEventBus, or a normalize thread's port to it). */
export interface OutcomePublisher {
  publish(outcome: NormalizationOutcome): void;
}

/** Options for {@link NormalizeWorker}; every limit has a default. */
export interface NormalizeWorkerOptions {
  store: Store;
  /** One normalizer per format; gateway/** cannot import adapters/**, so main.ts passes them in. */
  normalizers: ReadonlyMap<Format, Normalizer>;
  log: Logger;
  metrics?: NormalizeMetrics;
  /** Where outcomes are published (enhanced-mode ACKs subscribe there), after their batch committed. */
  events?: OutcomePublisher;
  /** This worker's name as the queue's applier (Store.claimBatch). Default: random. */
  applier?: string;
  /** Items claimed, normalized and committed together (one store transaction). Default 200. */
  batchSize?: number;
  /**
   * When the queue held less than a batch, wait this long before claiming again, so a batch
   * gathers what arrives meanwhile. Each commit rewrites whole B-tree pages, so batches of a few
   * messages write about twice as much per message as full ones (pipeline bench: 100–120 KB at
   * 100–400 msg/s, 63 KB at full load). Adds at most this much to the application-ACK lag.
   * Default 50 ms.
   */
  lingerMs?: number;
  /** Lease per claimed item, and the applier lease; a crashed worker's items come back after it. Default 30 s. */
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
  /** Normalize in worker threads (NormalizePool) instead of on the event loop. Default: in-process. */
  pool?: AsyncNormalizer;
}

/** A claimed item once read: its raw, and what to commit for it. */
type Prepared =
  | { lease: Lease; rawId: string; format: string; kind: 'already'; outcome: NormalizationOutcome }
  | { lease: Lease; rawId: string; format: string; kind: 'normalize'; raw: RawMessage; mapping: string; normalized: Normalized };

/** What a committed item produced. */
interface Applied {
  item: Prepared;
  outcome: NormalizationOutcome;
  records: WrittenRecord[];
}

/**
 * Turns stored raws into canonical records, a batch at a time. The loop claims up to `batchSize`
 * items of the `normalize` queue in arrival order, reads their raws, runs the format's normalizer
 * on each (pure, sync), then commits every record (local references rewritten, record-writer.ts),
 * every outcome (normalization-outcome.ts) and every queue completion in ONE store transaction
 * (Store.commitBatch). Only then are outcomes published. A crash before the commit leaves nothing
 * behind: the items come back after their leases and the batch re-runs whole.
 *
 * Order: one loop per process, and claimBatch's applier lease lets one process at a time apply a
 * queue, so messages (about one patient or not) are applied in the order they were queued,
 * within a batch and across batches and processes. A raw whose outcome exists for the same
 * mapping is not normalized again (a retransmitted duplicate re-queued by the intake).
 *
 * Data problems (including a normalizer that throws) complete the item with issues: retrying would
 * give the same answer. A store error that is not retryable (one item's records refused) splits the
 * batch so the other items commit; retryable ones back off per item, then dead-letter.
 */
export class NormalizeWorker {
  readonly #o: Required<Omit<NormalizeWorkerOptions, 'metrics' | 'events' | 'backoff' | 'identityDomains' | 'pool' | 'applier'>> & Pick<NormalizeWorkerOptions, 'metrics' | 'events' | 'identityDomains' | 'pool'>;
  readonly #backoff: { baseMs: number; maxMs: number };
  readonly #wakers = new Set<() => void>();
  /** This worker's name as the queue's applier (Store.claimBatch). */
  readonly #applier: string;
  #loopDone: Promise<void> | undefined;
  #stopping = false;

  /** @param options - store, normalizers, log and limits (see NormalizeWorkerOptions) */
  constructor(options: NormalizeWorkerOptions) {
    const batchSize = options.batchSize ?? 200;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new TypeError('batchSize must be a positive integer');
    this.#o = {
      ...options,
      batchSize,
      lingerMs: options.lingerMs ?? 50,
      leaseMs: options.leaseMs ?? 30_000,
      idleMs: options.idleMs ?? 200,
      maxAttempts: options.maxAttempts ?? 8,
      route: options.route ?? (() => []),
    };
    this.#applier = options.applier ?? `normalize-${randomUUID()}`;
    this.#backoff = { baseMs: options.backoff?.baseMs ?? 500, maxMs: options.backoff?.maxMs ?? 60_000 };
  }

  /** Starts the claim loop. Calling it twice is a no-op. */
  start(): void {
    if (this.#loopDone !== undefined || this.#stopping) return;
    this.#loopDone = this.#loop();
    this.#o.log.info({ batchSize: this.#o.batchSize, formats: [...this.#o.normalizers.keys()] }, 'normalize worker started');
  }

  /** Something was enqueued: wake the idle loop now instead of after its sleep. */
  notify(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  /** Lets the loop finish the batch it holds, then resolves. No new batch is claimed. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.notify();
    await this.#loopDone;
    if (this.#loopDone !== undefined) {
      // Hand the queue over now rather than when the applier lease lapses (a restart would wait).
      await this.#o.store.claimBatch(NORMALIZE_QUEUE, { max: 0, leaseMs: 0, applier: this.#applier })
        .catch((err: unknown) => this.#o.log.warn({ err }, 'normalize applier lease not released'));
    }
    this.#o.log.info('normalize worker stopped');
  }

  async #loop(): Promise<void> {
    let claimFailures = 0;
    while (!this.#stopping) {
      let leases: Lease[];
      try {
        leases = await this.#o.store.claimBatch(NORMALIZE_QUEUE, { max: this.#o.batchSize, leaseMs: this.#o.leaseMs, applier: this.#applier });
        claimFailures = 0;
      } catch (err) {
        if (this.#stopping) return;
        // Store down: back off like a retry so an outage does not become a log flood.
        const delay = Math.min(this.#backoff.maxMs, this.#o.idleMs * 2 ** claimFailures++);
        this.#o.log.warn({ err, attempt: claimFailures, retryInMs: delay }, 'normalize claim failed');
        await this.#idle(delay);
        continue;
      }
      if (leases.length === 0) {
        await this.#idle();
        await this.#linger();
        continue;
      }
      await this.#processBatch(leases);
      if (leases.length < this.#o.batchSize) await this.#linger();
    }
  }

  /** A pause that notify() does not cut short (stop() does). */
  #linger(): Promise<void> {
    if (this.#stopping || this.#o.lingerMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wakers.delete(stop);
        resolve();
      }, this.#o.lingerMs);
      const stop = (): void => {
        if (!this.#stopping) return;
        clearTimeout(timer);
        this.#wakers.delete(stop);
        resolve();
      };
      this.#wakers.add(stop);
    });
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

  /** Never throws: every item ends completed, failed, dead-lettered or left to its lease. */
  async #processBatch(leases: readonly Lease[]): Promise<void> {
    const started = process.hrtime.bigint();
    const items: Prepared[] = [];
    await Promise.all(leases.map(async (lease) => {
      const rawId = typeof lease.item.payload.rawId === 'string' ? lease.item.payload.rawId : lease.item.id;
      try {
        const item = await this.#prepare(lease, rawId, started);
        if (item !== undefined) items.push(item);
      } catch (err) {
        await this.#onStoreFailure(lease, rawId, 'unknown', started, err);
      }
    }));
    // Promise.all resolved in completion order; commit in claim (arrival) order.
    const order = new Map(leases.map((l, i) => [l, i]));
    items.sort((a, b) => order.get(a.lease)! - order.get(b.lease)!);
    if (items.length > 0) await this.#commit(items, started);
  }

  /** Reads the raw and its prior outcome, and normalizes it (pure); undefined when dead-lettered. */
  async #prepare(lease: Lease, rawId: string, started: bigint): Promise<Prepared | undefined> {
    const raw = await this.#o.store.getRaw(rawId);
    if (raw === undefined) {
      // An item pointing at no raw is a broken invariant, not a data problem: park it for a human.
      await this.#o.store.deadLetter(lease, 'PSL_NOT_FOUND');
      this.#o.log.error({ rawId, code: 'PSL_NOT_FOUND' }, 'normalize item has no raw');
      this.#finish('unknown', 'dead', started, { rawId, ok: false, recordIds: [], issues: [RAW_MISSING] });
      return undefined;
    }
    const mapping = this.#o.normalizers.get(raw.format)?.name ?? `${raw.format}:none`;
    const prior = await readOutcome(this.#o.store, raw.id);
    if (prior?.mapping === mapping) {
      // Already normalized by this mapping (a retransmitted duplicate re-queued by the intake):
      // redoing it could revert records that later messages updated. Only a new mapping re-derives.
      return { lease, rawId, format: raw.format, kind: 'already', outcome: prior.outcome };
    }
    const pool = this.#o.pool;
    const normalized = pool !== undefined && this.#o.normalizers.has(raw.format) ? await pool.normalize(raw) : this.#normalize(raw);
    return { lease, rawId, format: raw.format, kind: 'normalize', raw, mapping, normalized };
  }

  /** Commits the items as one batch, then publishes; a refused batch is split to isolate the item at fault. */
  async #commit(items: readonly Prepared[], started: bigint): Promise<void> {
    let committed: { result: Applied[]; lost: Lease[] };
    try {
      committed = await this.#o.store.commitBatch(items.map((i) => i.lease), (txn, held) => this.#apply(txn, items, held));
    } catch (err) {
      const retryable = !isGatewayError(err) || err.retryable;
      if (!retryable && items.length > 1) {
        for (const item of items) await this.#commit([item], started);
        return;
      }
      for (const item of items) await this.#onStoreFailure(item.lease, item.rawId, item.format, started, err);
      return;
    }
    for (const lease of committed.lost) {
      // Someone else holds the item now (our lease expired); they will finish it.
      this.#o.log.warn({ itemId: lease.item.id, code: 'PSL_LEASE_LOST', attempt: lease.attempt }, 'normalize lease lost');
      this.#o.metrics?.normalizeOutcomes.inc({ format: 'unknown', outcome: 'lease-lost' });
    }
    for (const { item, outcome, records } of committed.result) {
      for (const r of records) this.#o.metrics?.normalizeRecords.inc({ type: r.resourceType, status: r.status });
      const codes = codesOf(outcome.issues);
      this.#o.log.debug({ rawId: item.rawId, format: item.format, ok: outcome.ok, records: records.length, issues: outcome.issues.length, codes }, item.kind === 'already' ? 'raw already normalized' : 'raw normalized');
      this.#finish(item.format, item.kind === 'already' ? 'already' : outcome.ok ? 'ok' : 'rejected', started, outcome);
    }
  }

  /** Inside the batch transaction: the records and outcome of every item whose lease is held. */
  #apply(txn: RecordTxn, items: readonly Prepared[], held: readonly Lease[]): Applied[] {
    const holding = new Set(held);
    return items.filter((item) => holding.has(item.lease)).map((item): Applied => {
      if (item.kind === 'already') return { item, outcome: item.outcome, records: [] };
      const { raw, mapping, normalized } = item;
      const written = normalized.ok
        ? writeRecordsIn(txn, raw, mapping, normalized.records, this.#o.route, this.#o.identityDomains?.get(raw.feed))
        : { records: [], issues: [] };
      const reused: Issue[] = raw.controlIdReused
        ? [{ severity: 'warning', code: 'duplicate', where: 'sourceRef', message: 'control-id-reused: the feed sent this control id before with other content; stored as a new message' }]
        : [];
      const issues = [...reused, ...normalized.issues, ...written.issues];
      const ok = normalized.ok && !issues.some((i) => i.severity === 'fatal');
      const outcome: NormalizationOutcome = { rawId: raw.id, ok, issues, recordIds: written.records.map((r) => r.id) };
      txn.putRecord(outcomeRecord(raw, mapping, outcome));
      return { item, outcome, records: written.records };
    });
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
