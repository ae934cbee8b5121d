import type { Issue } from './issues.js';
import type { RelayStore } from './relay-store.js';
import type {
  AuditEntry, AuditEvent, CanonicalRecord, Format, Identifier, IdentityConflict, Lease, PutRecordResult, QueueItem, QueueStats,
  RawMessage, RawMeta, RecordInput,
} from './types.js';

/** Prefix of a reference between records of one normalized message, before they have canonical ids. */
export const LOCAL_REF_PREFIX = 'urn:passerelle:local:';

/**
 * A record produced by a normalizer. Records of one message refer to each other with
 * `{ reference: LOCAL_REF_PREFIX + localRef }`; the normalize worker stores them in order and
 * rewrites those references to `Type/id` once each target has its canonical id.
 */
export interface NormalizedRecord extends RecordInput {
  /** Unique within the message, e.g. `patient`, `obs-3`. */
  localRef: string;
  /** localRef of the Patient record this one is about, if any (becomes patientId). */
  patientRef?: string;
  /**
   * An update of an existing record (FHIR `PUT Type/id`, If-Match as `ifVersion`). The writer
   * honours it only when the raw's request names that record (`PUT Type/id`), which the intake
   * authorised: a normalizer cannot aim a write at a record on its own.
   */
  updateOf?: { id: string; ifVersion?: number };
}

/** Data problems are values: a message that cannot be mapped yields issues, never an exception. */
export type Normalized =
  | { ok: true; records: NormalizedRecord[]; issues: Issue[] }
  | { ok: false; issues: Issue[] };

/** Pure and synchronous: the same raw always gives the same records. */
export interface Normalizer {
  readonly format: Format;
  /** name@version, recorded in each record's provenance.mapping. */
  readonly name: string;
  normalize(raw: RawMessage): Normalized;
}

/**
 * `enqueue`: also queue `{ id: rawId, payload: { rawId } }` on this queue, the original's id for a
 * duplicate (enqueue semantics: a no-op while that item waits or is in flight). LmdbStore does it in
 * the same commit; RedisStore right after the raw's script, before resolving.
 */
export interface PutRawOptions {
  enqueue?: string;
  /**
   * A feed's duplicate window: a raw whose `hash` (e.g. its bytes without MSH-7) the same feed
   * stored less than `windowMs` ago is a duplicate of that raw.
   */
  similar?: { hash: string; windowMs: number };
  /**
   * What "the same message" is hashed on when it is more than the body (hex SHA-256): a FHIR body
   * means something else posted to another URL or under another condition. Default: raw.sha256.
   */
  dedupeHash?: string;
}

/** `controlIdReused`: stored as a new message although the feed had sent its sourceRef before. */
export type PutRawResult = { status: 'stored' | 'duplicate'; rawId: string; controlIdReused?: boolean };

/**
 * The durable store. Semantic operations, not get/set. LmdbStore and RedisStore both pass
 * test/contract/store.conformance.ts. Every write resolves only once it is durable.
 */
export interface Store {
  readonly kind: 'lmdb' | 'redis';

  /**
   * Durably store raw bytes. A duplicate is the same message: same feed and same sha256; it stores
   * nothing and returns the original id. A sourceRef the feed sent before with other bytes is a new
   * message, stored with `controlIdReused`.
   */
  putRaw(raw: RawMessage, options?: PutRawOptions): Promise<PutRawResult>;
  getRaw(id: string): Promise<RawMessage | undefined>;
  getRawMeta(id: string): Promise<RawMeta | undefined>;

  /**
   * Create or version a record. With `input.id` that record is updated; otherwise the record of the
   * same resourceType claiming one of its match keys within its identity domain is updated
   * (record-match.ts); a match about another patient, or on two records, opens an identity conflict
   * and creates a new record; otherwise one is created.
   * A new version is written only when resource, labels, identifiers or sharedWith changed.
   */
  putRecord(input: RecordInput): Promise<PutRecordResult>;
  /** Identity conflicts opened by putRecord, oldest first, optionally of one status. */
  identityConflicts(options?: { status?: IdentityConflict['status'] }): Promise<IdentityConflict[]>;
  /** Records an admin's decision on a conflict; undefined when no such conflict. */
  resolveIdentityConflict(id: string, resolution: { status: 'linked' | 'kept-separate'; by: string }): Promise<IdentityConflict | undefined>;
  /** Latest version, or the given one. */
  getRecord(id: string, version?: number): Promise<CanonicalRecord | undefined>;
  /** Latest versions of records holding this identifier, optionally restricted to one type. */
  findByIdentifier(identifier: Identifier, resourceType?: string): Promise<CanonicalRecord[]>;
  findByPatient(patientId: string, resourceType?: string): Promise<CanonicalRecord[]>;
  /** Latest versions of one type updated at or after `since` (ISO), oldest first, at most `limit`. */
  findByType(resourceType: string, options?: { since?: string; limit?: number }): Promise<CanonicalRecord[]>;

  /**
   * Runs `work` and commits everything it wrote, together with the completion of every lease it
   * was given that is still held, as ONE atomic, durable step (LMDB: one write transaction and one
   * fsync; Redis: one script). A crash before it resolves leaves nothing of it behind, so the
   * items come back after their leases and the batch re-runs whole. `work` sees only the leases
   * still held, and may run more than once (RedisStore runs it again after reading what it looked
   * up; LmdbStore plans it outside the write lock and runs it again inside when something it read
   * moved meanwhile): it must depend only on what `txn` returns.
   * Store errors reject; `lost` lists the leases that were no longer held (their items are not
   * completed and `work` did not see them).
   */
  commitBatch<T>(leases: readonly Lease[], work: (txn: RecordTxn, held: readonly Lease[]) => T): Promise<{ result: T; lost: Lease[] }>;

  /** Add an item to a queue; enqueueing an id already waiting or in flight is a no-op. */
  enqueue(queue: string, item: QueueItem, options?: { availableAt?: number }): Promise<void>;
  /** Claim the oldest ready item (or one whose lease expired) for leaseMs. */
  claim(queue: string, leaseMs: number): Promise<Lease | undefined>;
  /**
   * Claims up to `max` ready items in queue order (expired leases first: they are the oldest), if
   * `applier` holds or can take the queue's applier lease (held for `leaseMs`, renewed by each
   * call). One applier at a time per queue is what keeps items applied in arrival order across
   * processes; another applier gets `[]` until the lease lapses. `max: 0, leaseMs: 0` releases it.
   */
  claimBatch(queue: string, options: { max: number; leaseMs: number; applier: string }): Promise<Lease[]>;
  /** Remove a claimed item. Throws PSL_LEASE_LOST when the lease was taken over. */
  complete(lease: Lease): Promise<void>;
  /** Give a claimed item back, ready again at retryAt (epoch ms). */
  fail(lease: Lease, options: { retryAt: number; reason: string }): Promise<void>;
  /** Move a claimed item to the queue's dead letters. */
  deadLetter(lease: Lease, reason: string): Promise<void>;
  queueStats(queue: string): Promise<QueueStats>;
  /** Dead-lettered items with their reason, oldest first. */
  deadLetters(queue: string): Promise<Array<{ item: QueueItem; reason: string; attempt: number }>>;

  /** Append to the hash-chained audit log. */
  appendAudit(event: AuditEvent): Promise<AuditEntry>;
  readAudit(options?: { fromSeq?: number; limit?: number }): Promise<AuditEntry[]>;
  /** Recompute the chain; returns the first broken seq, or undefined when intact. */
  verifyAudit(): Promise<number | undefined>;

  /**
   * The messaging relay's values (envelopes, receipts, blob grants, the directory log) in this
   * store, so an accepted envelope and its queue entries and audit entry are one commit. Opened
   * once, by the main thread; closing it stops its sweep, the Store's close() closes the rest.
   */
  openRelayStore(): Promise<RelayStore>;

  /**
   * Makes the next reads see every commit made so far, whichever thread made it. LMDB reads from
   * one snapshot per event-loop turn, so a reader told of another thread's commit (a normalization
   * outcome) must refresh first; on Redis every read is current and this does nothing.
   */
  readLatest(): void;

  /** Cheap round trip for /ready. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Synchronous record writes inside Store.commitBatch: same rules as Store.putRecord, and each write
 * is visible to the next ones of the batch. `notOnto`: records this input must not update (those
 * an earlier record of the same message was written to); a match on one opens a `same-message`
 * identity conflict instead.
 */
export interface RecordTxn {
  putRecord(input: RecordInput, options?: { notOnto?: ReadonlySet<string> }): PutRecordResult;
}

/** Who is calling, once authenticated (bearer token, client certificate or bound source address). */
export interface Caller {
  participant: string;
  kind: 'hospital' | 'lab' | 'pharmacy' | 'professional' | 'insurer' | 'admin';
}

/** What an adapter knows about bytes it just framed. */
export interface IntakeRequest {
  feed: string;
  participant: string;
  format: Format;
  body: Uint8Array;
  /** MSH-10, Bundle.id, `file.csv#row=12`: identifiers, never content. */
  sourceRef?: string;
  /** The feed's duplicate window (PutRawOptions.similar). */
  similar?: { hash: string; windowMs: number };
  contentType?: string;
  /** The character set the adapter decoded the body with (RawMessage.charset). */
  charset?: string;
  /** The REST request that delivered the body (RawMessage.request). */
  request?: string;
}

/**
 * The only way from a feed into the store. `accept` resolves once the raw is durable (or known to
 * be a duplicate) and queued for normalization; only then may an adapter acknowledge. Store failures
 * reject with a retryable GatewayError (PSL_STORE_UNAVAILABLE).
 */
export interface IntakePort {
  accept(req: IntakeRequest): Promise<PutRawResult & { sha256: string }>;
}

/** The outcome of normalizing one raw, published by the normalize worker. */
export interface NormalizationOutcome {
  rawId: string;
  ok: boolean;
  issues: Issue[];
  /** Canonical ids written for this raw. */
  recordIds: string[];
}

/** Subscribe to normalization outcomes (enhanced-mode application ACKs wait on these). */
export interface NormalizationEvents {
  /** Returns the unsubscribe function. */
  subscribe(listener: (outcome: NormalizationOutcome) => void): () => void;
}
