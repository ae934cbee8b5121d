import type { Logger } from 'pino';
import type { PutRawOptions, PutRawResult, RecordTxn, Store } from '../core/ports.js';
import type { RelayStore } from '../core/relay-store.js';
import type {
  AuditEntry, AuditEvent, CanonicalRecord, Format, Identifier, IdentityConflict, Lease, PutRecordResult, QueueItem, QueueStats,
  RawMessage, RawMeta, RecordInput,
} from '../core/types.js';
import { GatewayError, isGatewayError } from '../../protocol/errors.js';
import type { AtRestCipher } from './at-rest.js';
import { firstBrokenLink } from './audit-chain.js';
import { appendAuditWithin, readAuditEntries } from './lmdb-audit.js';
import { LmdbQueues } from './lmdb-queue.js';
import { LmdbRelayStore } from './lmdb-relay-store.js';
import { LmdbRecords } from './lmdb-records.js';
import { LmdbPlan } from './lmdb-plan.js';
import { openLmdb, type LmdbDbs, type StoredRaw } from './lmdb-schema.js';

/** Options for LmdbStore.open. */
export interface LmdbStoreOptions {
  /** Directory for data.mdb / lock.mdb; created when missing. */
  path: string;
  /** Seals raw bodies and record contents at rest. */
  cipher: AtRestCipher;
  log?: Logger;
}

const rawSlot = (id: string): string => `raw:${id}`;
const refSlot = (id: string): string => `ref:${id}`;
const requestSlot = (id: string): string => `req:${id}`;

/**
 * The embedded Store: LMDB through lmdb-js.
 *
 * Durable: every write promise resolves only after its LMDB transaction committed and was
 * fsynced (see openLmdb), so intake may ACK as soon as putRaw resolves. Every write is an lmdb-js
 * transaction callback: it runs on the main thread inside the batch's write transaction, so a
 * check and the write it guards (dedupe, lease ownership, audit seq) are atomic, and all callbacks
 * queued in one event turn share one commit and its one fsync (group commit). LMDB's writer lock
 * spans processes, so the same holds with several gateway processes on one data directory.
 * A plain transaction callback that throws keeps the writes it made before the throw, so every
 * such callback here checks before it writes; commitBatch, which writes a whole batch before it
 * can know, runs in a child transaction, which a throw rolls back.
 *
 * At rest: raw bodies, sourceRefs (control ids) and record versions are AtRestCipher blobs; raw
 * metadata (feed, sha256, sizes), record heads (type, version, time, patient record id) and queue/audit entries
 * (ids and codes by contract) are in clear; identifiers and sourceRefs in index keys are hashed.
 */
export class LmdbStore implements Store {
  readonly kind = 'lmdb' as const;
  readonly #path: string;
  readonly #dbs: LmdbDbs;
  readonly #cipher: AtRestCipher;
  readonly #log: Logger | undefined;
  readonly #records: LmdbRecords;
  readonly #queues: LmdbQueues;
  #closed = false;
  #planned = 0;
  #replanned = 0;

  private constructor(path: string, dbs: LmdbDbs, cipher: AtRestCipher, log: Logger | undefined) {
    this.#path = path;
    this.#dbs = dbs;
    this.#cipher = cipher;
    this.#log = log;
    this.#records = new LmdbRecords(dbs, cipher);
    this.#queues = new LmdbQueues(dbs);
  }

  /**
   * Opens (or creates) the store at options.path.
   * @param options - path, at-rest cipher and an optional logger
   */
  static async open(options: LmdbStoreOptions): Promise<LmdbStore> {
    let dbs: LmdbDbs;
    try {
      dbs = openLmdb(options.path);
    } catch (cause) {
      throw new GatewayError('PSL_STORE_UNAVAILABLE', 'lmdb environment could not be opened', { cause });
    }
    const store = new LmdbStore(options.path, dbs, options.cipher, options.log);
    await store.ping();
    options.log?.info({ component: 'lmdb-store' }, 'store opened');
    return store;
  }

  async putRaw(raw: RawMessage, options: PutRawOptions = {}): Promise<PutRawResult> {
    this.#assertOpen();
    // Seal before the transaction so the write lock is held for lookups and puts only.
    const value: StoredRaw = {
      feed: raw.feed,
      participant: raw.participant,
      format: raw.format,
      receivedAt: raw.receivedAt.getTime(),
      sha256: raw.sha256,
      ...(raw.sourceRef === undefined ? {} : { sealedRef: this.#cipher.seal(Buffer.from(raw.sourceRef, 'utf8'), refSlot(raw.id)) }),
      ...(raw.contentType === undefined ? {} : { contentType: raw.contentType }),
      ...(raw.charset === undefined ? {} : { charset: raw.charset }),
      ...(raw.request === undefined ? {} : { sealedRequest: this.#cipher.seal(Buffer.from(raw.request, 'utf8'), requestSlot(raw.id)) }),
      bytes: raw.body.length,
      sealed: this.#cipher.seal(raw.body, rawSlot(raw.id)),
    };
    const shaKey: [string, string, string] = ['s', raw.feed, options.dedupeHash ?? raw.sha256];
    const refKey: [string, string, string] | undefined =
      raw.sourceRef === undefined ? undefined : ['r', raw.feed, this.#cipher.lookupHash(raw.sourceRef)];
    const { dedupe, raw: rawDb } = this.#dbs;
    const similarKey: [string, string, string] | undefined = options.similar === undefined ? undefined : ['w', raw.feed, options.similar.hash];
    const queue = options.enqueue;
    const enqueue = (rawId: string): void => {
      if (queue !== undefined) this.#queues.enqueueWithin(queue, { id: rawId, payload: { rawId } });
    };
    // One transaction, so one commit: the raw, its dedupe keys and its queue item are durable together.
    // A duplicate is the same message: same feed and same bytes. A known control id with other bytes
    // is a new message (senders reset counters), stored and flagged; the ref key then names the newest.
    const result = await this.#write((): PutRawResult => {
      const original = dedupe.get(shaKey) ?? this.#withinWindow(similarKey, options.similar?.windowMs);
      if (original !== undefined) {
        enqueue(original);
        return { status: 'duplicate', rawId: original };
      }
      if (similarKey) dedupe.put(similarKey, `${Date.now()} ${raw.id}`);
      const reused = refKey !== undefined && dedupe.get(refKey) !== undefined;
      rawDb.put(raw.id, reused ? { ...value, controlIdReused: true } : value);
      dedupe.put(shaKey, raw.id);
      if (refKey) dedupe.put(refKey, raw.id);
      enqueue(raw.id);
      return { status: 'stored', rawId: raw.id, ...(reused ? { controlIdReused: true } : {}) };
    });
    this.#log?.debug({ rawId: result.rawId, sha256: raw.sha256, feed: raw.feed, status: result.status }, 'raw put');
    return result;
  }

  /** The raw stored under a duplicate-window key less than windowMs ago (value `<epoch ms> <rawId>`). */
  #withinWindow(key: [string, string, string] | undefined, windowMs: number | undefined): string | undefined {
    if (key === undefined || windowMs === undefined) return undefined;
    const [at, rawId] = (this.#dbs.dedupe.get(key) ?? '').split(' ');
    return rawId !== undefined && Date.now() - Number(at) < windowMs ? rawId : undefined;
  }

  async getRaw(id: string): Promise<RawMessage | undefined> {
    const stored = this.#read(() => this.#dbs.raw.get(id));
    if (stored === undefined) return undefined;
    return { ...this.#meta(id, stored), body: this.#cipher.open(stored.sealed, rawSlot(id)) };
  }

  async getRawMeta(id: string): Promise<RawMeta | undefined> {
    const stored = this.#read(() => this.#dbs.raw.get(id));
    if (stored === undefined) return undefined;
    return { ...this.#meta(id, stored), bytes: stored.bytes };
  }

  #meta(id: string, s: StoredRaw): Omit<RawMessage, 'body'> {
    return {
      id,
      feed: s.feed,
      participant: s.participant,
      format: s.format as Format,
      receivedAt: new Date(s.receivedAt),
      sha256: s.sha256,
      ...(s.sealedRef === undefined ? {} : { sourceRef: Buffer.from(this.#cipher.open(s.sealedRef, refSlot(id))).toString('utf8') }),
      ...(s.contentType === undefined ? {} : { contentType: s.contentType }),
      ...(s.charset === undefined ? {} : { charset: s.charset }),
      ...(s.sealedRequest === undefined ? {} : { request: Buffer.from(this.#cipher.open(s.sealedRequest, requestSlot(id))).toString('utf8') }),
      ...(s.controlIdReused ? { controlIdReused: true } : {}),
    };
  }

  /** Throws PSL_NOT_FOUND when input.id names no record, PSL_BAD_REQUEST when it names another type. */
  putRecord(input: RecordInput): Promise<PutRecordResult> {
    this.#assertOpen();
    return this.#guard(this.#records.put(input));
  }

  async identityConflicts(options: { status?: IdentityConflict['status'] } = {}): Promise<IdentityConflict[]> {
    return this.#read(() => this.#records.conflicts(options.status));
  }

  resolveIdentityConflict(id: string, resolution: { status: 'linked' | 'kept-separate'; by: string }): Promise<IdentityConflict | undefined> {
    this.#assertOpen();
    return this.#guard(this.#records.resolveConflict(id, resolution));
  }

  async getRecord(id: string, version?: number): Promise<CanonicalRecord | undefined> {
    return this.#read(() => this.#records.get(id, version));
  }

  async findByIdentifier(identifier: Identifier, resourceType?: string): Promise<CanonicalRecord[]> {
    return this.#read(() => this.#records.findByIdentifier(identifier, resourceType));
  }

  async findByPatient(patientId: string, resourceType?: string): Promise<CanonicalRecord[]> {
    return this.#read(() => this.#records.findByPatient(patientId, resourceType));
  }

  async findByType(resourceType: string, options?: { since?: string; limit?: number }): Promise<CanonicalRecord[]> {
    return this.#read(() => this.#records.findByType(resourceType, options));
  }

  /**
   * Planned first, committed second. The work runs outside the write lock against an LmdbPlan
   * (committed reads, buffered writes, read set kept), so intake commits are not held up by
   * matching and sealing. Then one lmdb-js child transaction checks that the leases and the read
   * set are unchanged and writes the plan, or, when something changed meanwhile, runs the work
   * again inside the transaction. Either way the batch commits with one fsync, and (unlike a plain
   * `transaction` callback, whose writes are kept when it throws) any throw rolls it all back.
   */
  async commitBatch<T>(leases: readonly Lease[], work: (txn: RecordTxn, held: readonly Lease[]) => T): Promise<{ result: T; lost: Lease[] }> {
    this.#assertOpen();
    const plan = new LmdbPlan(this.#dbs);
    const plannedHeld = leases.filter((l) => this.#queues.holds(l));
    const planned = this.#read(() => work({ putRecord: (input, options) => this.#records.putWithin(input, options, plan) }, plannedHeld));
    return this.#guard(this.#dbs.env.childTransaction(() => {
      const held = leases.filter((l) => this.#queues.holds(l));
      let result = planned;
      // A lease lost is never held again, so the same count means the same leases.
      if (held.length === plannedHeld.length && plan.stillValid()) {
        plan.apply();
        this.#planned++;
      } else {
        result = work({ putRecord: (input, options) => this.#records.putWithin(input, options) }, held);
        this.#replanned++;
      }
      for (const lease of held) this.#queues.completeWithin(lease);
      return { result, lost: leases.filter((l) => !held.includes(l)) };
    }));
  }

  /** Batches committed as planned, and run again inside their transaction (a read had changed). */
  get batchPlans(): { planned: number; replanned: number } {
    return { planned: this.#planned, replanned: this.#replanned };
  }

  claimBatch(queue: string, options: { max: number; leaseMs: number; applier: string }): Promise<Lease[]> {
    this.#assertOpen();
    return this.#guard(this.#queues.claimBatch(queue, options));
  }

  enqueue(queue: string, item: QueueItem, options?: { availableAt?: number }): Promise<void> {
    this.#assertOpen();
    return this.#guard(this.#queues.enqueue(queue, item, options));
  }

  claim(queue: string, leaseMs: number): Promise<Lease | undefined> {
    this.#assertOpen();
    return this.#guard(this.#queues.claim(queue, leaseMs));
  }

  complete(lease: Lease): Promise<void> {
    this.#assertOpen();
    return this.#guard(this.#queues.complete(lease));
  }

  fail(lease: Lease, options: { retryAt: number; reason: string }): Promise<void> {
    this.#assertOpen();
    return this.#guard(this.#queues.fail(lease, options));
  }

  deadLetter(lease: Lease, reason: string): Promise<void> {
    this.#assertOpen();
    return this.#guard(this.#queues.deadLetter(lease, reason));
  }

  async queueStats(queue: string): Promise<QueueStats> {
    return this.#read(() => this.#queues.stats(queue));
  }

  async deadLetters(queue: string): Promise<Array<{ item: QueueItem; reason: string; attempt: number }>> {
    return this.#read(() => this.#queues.deadLetters(queue));
  }

  /** Seq allocation happens inside the write transaction, so concurrent appends chain in commit order. */
  appendAudit(event: AuditEvent): Promise<AuditEntry> {
    this.#assertOpen();
    return this.#write(() => appendAuditWithin(this.#dbs, event));
  }

  /** See Store.openRelayStore: the relay's tables, in this environment. */
  openRelayStore(): Promise<RelayStore> {
    this.#assertOpen();
    return LmdbRelayStore.open(this.#path, this.#dbs, { queues: this.#queues, auditWithin: (e) => appendAuditWithin(this.#dbs, e) }, this.#cipher);
  }

  async readAudit(options: { fromSeq?: number; limit?: number } = {}): Promise<AuditEntry[]> {
    return this.#read(() => readAuditEntries(this.#dbs, options));
  }

  async verifyAudit(): Promise<number | undefined> {
    return this.#read(() => firstBrokenLink(readAuditEntries(this.#dbs, {})));
  }

  readLatest(): void {
    if (!this.#closed) this.#dbs.env.resetReadTxn();
  }

  async ping(): Promise<void> {
    this.#read(() => this.#dbs.env.getStats());
  }

  /** Waits for queued writes to commit, then closes the environment. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#dbs.env.close();
    this.#log?.info({ component: 'lmdb-store' }, 'store closed');
  }

  #assertOpen(): void {
    if (this.#closed) throw new GatewayError('PSL_SHUTTING_DOWN', 'lmdb store is closed');
  }

  #write<T>(fn: () => T): Promise<T> {
    return this.#guard(this.#dbs.env.transaction(fn));
  }

  /** GatewayErrors pass through; lmdb failures become PSL_STORE_UNAVAILABLE (retryable) with the cause. */
  async #guard<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      if (isGatewayError(err)) throw err;
      throw new GatewayError('PSL_STORE_UNAVAILABLE', 'lmdb write failed', { cause: err });
    }
  }

  #read<T>(fn: () => T): T {
    this.#assertOpen();
    try {
      return fn();
    } catch (err) {
      if (isGatewayError(err)) throw err;
      throw new GatewayError('PSL_STORE_UNAVAILABLE', 'lmdb read failed', { cause: err });
    }
  }
}
