/**
 * RedisStore: the scale-out Store. N gateway processes share one Redis; every multi-key step is one
 * Lua script (or a compare-and-set script), so any process may crash without leaving half a write.
 *
 * Durability. A write resolves only after Redis answered it; what that answer is worth depends on
 * the server, which RedisStore.open reads (CONFIG GET) and compares with the configured `durability`:
 *   appendonly yes + appendfsync always   → no acknowledged write is lost (fsync before the reply)
 *   appendonly yes + appendfsync everysec → up to ~1 s of acknowledged writes lost on power loss
 *                                           or kernel crash (a Redis crash alone loses nothing)
 *   appendonly yes + appendfsync no       → the OS flushes when it likes (~30 s on Linux)
 *   appendonly no (RDB snapshots only)    → everything since the last snapshot lost on restart
 * `durability: 'always' | 'everysec' | 'none'` says which of these the admin accepts; a server that
 * gives less is logged as a warning and never fails the open (dev servers run without AOF).
 *
 * At rest. Raw bodies and record versions are sealed with AtRestCipher; index keys carry SHA-256
 * of identifiers, never the values. Raw metadata (ids, feed, format, sha256, sourceRef, size) is
 * plain JSON, as in LmdbStore: it is what logs may show anyway, and one seal per putRaw instead of
 * two is a large share of the store's CPU cost (bench/store-redis.bench.ts).
 * Key layout: redis-keys.ts. Scripts: redis-scripts.ts, redis-queue-scripts.ts.
 */
import type { Logger } from 'pino';
import { GatewayError, isGatewayError } from '../../protocol/errors.js';
import type { PutRawOptions, PutRawResult, RecordTxn, Store } from '../core/ports.js';
import type { RelayStore } from '../core/relay-store.js';
import type {
  AuditEntry, AuditEvent, CanonicalRecord, Identifier, IdentityConflict, Lease, PutRecordResult, QueueItem, QueueStats,
  RawMessage, RawMeta, RecordInput,
} from '../core/types.js';
import type { AtRestCipher } from './at-rest.js';
import { RedisAudit } from './redis-audit.js';
import { AS_BUFFERS, createConn, toArg, type RedisConn } from './redis-conn.js';
import { checkDurability, type Durability } from './redis-durability.js';
import { RedisKeys } from './redis-keys.js';
import { RedisQueues } from './redis-queue.js';
import { RedisRecords } from './redis-records.js';
import { RedisRelayStore } from './redis-relay-store.js';
import { RAW_PUT } from './redis-scripts.js';

/** How to open a RedisStore. */
export interface RedisStoreOptions {
  /** `redis://host:port/db` (or rediss:// for TLS). */
  url: string;
  /**
   * Namespace for every key, e.g. `passerelle:`; two stores with different prefixes never meet.
   * On Redis Cluster use a hash tag (`{passerelle}:`) so every script's keys share one slot.
   */
  prefix: string;
  /** Seals raw bodies and record contents. */
  cipher: AtRestCipher;
  /** What the admin expects from the server; see the top of this file. */
  durability: Durability;
  log?: Logger;
}

/** Raw metadata as stored: the sourceRef (control id) sealed as base64 under slot `ref:<id>`. */
type StoredMeta = Omit<RawMeta, 'receivedAt' | 'sourceRef' | 'request'> & { receivedAt: string; sealedRef?: string; sealedRequest?: string };

/** The Redis implementation of Store (DESIGN.md section 6). */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly #conn: RedisConn;
  readonly #keys: RedisKeys;
  readonly #cipher: AtRestCipher;
  readonly #records: RedisRecords;
  readonly #queues: RedisQueues;
  readonly #audit: RedisAudit;
  readonly #log: Logger | undefined;
  #closed = false;

  private constructor(conn: RedisConn, options: RedisStoreOptions) {
    this.#conn = conn;
    this.#keys = new RedisKeys(options.prefix, (v) => options.cipher.lookupHash(v));
    this.#cipher = options.cipher;
    this.#queues = new RedisQueues(conn, this.#keys);
    this.#records = new RedisRecords(conn, this.#keys, options.cipher, this.#queues);
    this.#audit = new RedisAudit(conn, this.#keys);
    this.#log = options.log;
  }

  /**
   * Connects, checks the server's persistence settings against `durability`, and returns the store.
   * @param options - url, prefix, cipher, durability, log
   */
  static async open(options: RedisStoreOptions): Promise<RedisStore> {
    if (typeof options.prefix !== 'string' || options.prefix.length === 0) {
      throw new GatewayError('PSL_CONFIG_INVALID', 'store.redis.prefix must be a non-empty string');
    }
    if (!['always', 'everysec', 'none'].includes(options.durability)) {
      throw new GatewayError('PSL_CONFIG_INVALID', 'store.redis.durability must be always, everysec or none');
    }
    const log = options.log;
    const conn = createConn(options.url);
    // Without a listener node-redis would crash the process on a dropped socket; it reconnects itself.
    conn.on('error', (err: unknown) => log?.warn({ err: { name: (err as Error).name, code: (err as { code?: unknown }).code } },
      'redis connection error'));
    try {
      await conn.connect();
    } catch (cause) {
      throw new GatewayError('PSL_STORE_UNAVAILABLE', 'cannot connect to redis', { cause });
    }
    await checkDurability(conn, options.durability, log);
    return new RedisStore(conn, options);
  }

  putRaw(raw: RawMessage, options: PutRawOptions = {}): Promise<PutRawResult> {
    return this.#guard('putRaw', async () => {
      const meta: StoredMeta = {
        id: raw.id, feed: raw.feed, participant: raw.participant, format: raw.format,
        receivedAt: raw.receivedAt.toISOString(), sha256: raw.sha256, bytes: raw.body.byteLength,
        ...(raw.sourceRef === undefined ? {} : { sealedRef: Buffer.from(this.#cipher.seal(Buffer.from(raw.sourceRef, 'utf8'), refSlot(raw.id))).toString('base64') }),
        ...(raw.contentType === undefined ? {} : { contentType: raw.contentType }),
        ...(raw.charset === undefined ? {} : { charset: raw.charset }),
        ...(raw.request === undefined ? {} : { sealedRequest: Buffer.from(this.#cipher.seal(Buffer.from(raw.request, 'utf8'), requestSlot(raw.id))).toString('base64') }),
      };
      const bySha = this.#keys.rawBySha(raw.feed, options.dedupeHash ?? raw.sha256);
      const byRef = raw.sourceRef === undefined ? bySha : this.#keys.rawByRef(raw.feed, raw.sourceRef);
      const window = options.similar !== undefined && options.similar.windowMs > 0 ? options.similar : undefined;
      const bySimilar = window === undefined ? bySha : this.#keys.rawBySimilar(raw.feed, window.hash);
      const reply = await RAW_PUT.run<string | number | null>(this.#conn, [bySha, byRef, this.#keys.raw(raw.id), bySimilar], [
        raw.id, JSON.stringify(meta), toArg(this.#cipher.seal(raw.body, bodySlot(raw.id))), String(Math.ceil(window?.windowMs ?? 0)),
      ]);
      const result: PutRawResult = typeof reply === 'string' ? { status: 'duplicate', rawId: reply }
        : reply === 1 ? { status: 'stored', rawId: raw.id, controlIdReused: true } : { status: 'stored', rawId: raw.id };
      // A second script, not one transaction: a crash in between leaves an unacknowledged raw whose
      // retransmission takes the duplicate path, which enqueues the original (see PutRawOptions).
      if (options.enqueue !== undefined) await this.#queues.enqueue(options.enqueue, { id: result.rawId, payload: { rawId: result.rawId } });
      return result;
    });
  }

  getRaw(id: string): Promise<RawMessage | undefined> {
    return this.#guard('getRaw', async () => {
      const [m, b] = await this.#conn.withTypeMapping(AS_BUFFERS).hmGet(this.#keys.raw(id), ['m', 'b']);
      if (!m || !b) return undefined;
      const { bytes: _bytes, ...meta } = this.#openMeta(parseMeta(m.toString('utf8')));
      return { ...meta, body: this.#cipher.open(b, bodySlot(id)) };
    });
  }

  getRawMeta(id: string): Promise<RawMeta | undefined> {
    return this.#guard('getRawMeta', async () => {
      const m = await this.#conn.hGet(this.#keys.raw(id), 'm');
      return m === null ? undefined : this.#openMeta(parseMeta(m));
    });
  }

  #openMeta(stored: StoredMeta): RawMeta {
    const { sealedRef, sealedRequest, receivedAt, ...meta } = stored;
    return {
      ...meta, receivedAt: new Date(receivedAt),
      ...(sealedRequest === undefined ? {} : { request: Buffer.from(this.#cipher.open(Buffer.from(sealedRequest, 'base64'), requestSlot(stored.id))).toString('utf8') }),
      ...(sealedRef === undefined ? {} : { sourceRef: Buffer.from(this.#cipher.open(Buffer.from(sealedRef, 'base64'), refSlot(stored.id))).toString('utf8') }),
    };
  }

  putRecord(input: RecordInput): Promise<PutRecordResult> {
    return this.#guard('putRecord', () => this.#records.put(input));
  }

  identityConflicts(options: { status?: IdentityConflict['status'] } = {}): Promise<IdentityConflict[]> {
    return this.#guard('identityConflicts', () => this.#records.conflicts(options.status));
  }

  resolveIdentityConflict(id: string, resolution: { status: 'linked' | 'kept-separate'; by: string }): Promise<IdentityConflict | undefined> {
    return this.#guard('resolveIdentityConflict', () => this.#records.resolveConflict(id, resolution));
  }

  getRecord(id: string, version?: number): Promise<CanonicalRecord | undefined> {
    return this.#guard('getRecord', () => this.#records.get(id, version));
  }

  findByIdentifier(identifier: Identifier, resourceType?: string): Promise<CanonicalRecord[]> {
    return this.#guard('findByIdentifier', () => this.#records.findByIdentifier(identifier, resourceType));
  }

  findByPatient(patientId: string, resourceType?: string): Promise<CanonicalRecord[]> {
    return this.#guard('findByPatient', () => this.#records.findByPatient(patientId, resourceType));
  }

  findByType(resourceType: string, options?: { since?: string; limit?: number }): Promise<CanonicalRecord[]> {
    return this.#guard('findByType', () => this.#records.findByType(resourceType, options));
  }

  /** See Store.commitBatch: discovery runs read what the work looks up, then one script commits. */
  commitBatch<T>(leases: readonly Lease[], work: (txn: RecordTxn, held: readonly Lease[]) => T): Promise<{ result: T; lost: Lease[] }> {
    return this.#guard('commitBatch', () => this.#records.commitBatch(leases, work));
  }

  claimBatch(queue: string, options: { max: number; leaseMs: number; applier: string }): Promise<Lease[]> {
    return this.#guard('claimBatch', () => this.#queues.claimBatch(queue, options));
  }

  enqueue(queue: string, item: QueueItem, options?: { availableAt?: number }): Promise<void> {
    return this.#guard('enqueue', () => this.#queues.enqueue(queue, item, options?.availableAt));
  }

  claim(queue: string, leaseMs: number): Promise<Lease | undefined> {
    return this.#guard('claim', () => this.#queues.claim(queue, leaseMs));
  }

  complete(lease: Lease): Promise<void> {
    return this.#guard('complete', () => this.#queues.complete(lease));
  }

  fail(lease: Lease, options: { retryAt: number; reason: string }): Promise<void> {
    return this.#guard('fail', async () => {
      await this.#queues.fail(lease, options.retryAt);
      this.#log?.debug({ dest: lease.queue, envId: lease.item.id, attempt: lease.attempt, code: options.reason }, 'queue item failed');
    });
  }

  deadLetter(lease: Lease, reason: string): Promise<void> {
    return this.#guard('deadLetter', async () => {
      await this.#queues.deadLetter(lease, reason);
      this.#log?.warn({ dest: lease.queue, envId: lease.item.id, attempt: lease.attempt, code: reason }, 'queue item dead-lettered');
    });
  }

  queueStats(queue: string): Promise<QueueStats> {
    return this.#guard('queueStats', () => this.#queues.stats(queue));
  }

  deadLetters(queue: string): Promise<Array<{ item: QueueItem; reason: string; attempt: number }>> {
    return this.#guard('deadLetters', () => this.#queues.deadLetters(queue));
  }

  appendAudit(event: AuditEvent): Promise<AuditEntry> {
    return this.#guard('appendAudit', () => this.#audit.append(event));
  }

  /** See Store.openRelayStore: the relay's values under `<prefix>relay:`, on this connection. */
  openRelayStore(): Promise<RelayStore> {
    return this.#guard('openRelayStore', () => RedisRelayStore.open({
      conn: this.#conn, prefix: `${this.#keys.prefix}relay:`, cipher: this.#cipher, parts: { keys: this.#keys, audit: this.#audit }, ...(this.#log ? { log: this.#log } : {}),
    }));
  }

  readAudit(options?: { fromSeq?: number; limit?: number }): Promise<AuditEntry[]> {
    return this.#guard('readAudit', () => this.#audit.read(options));
  }

  verifyAudit(): Promise<number | undefined> {
    return this.#guard('verifyAudit', () => this.#audit.verify());
  }

  readLatest(): void {}

  ping(): Promise<void> {
    return this.#guard('ping', async () => {
      await this.#conn.ping();
    });
  }

  /** Waits for commands in flight, then closes the connection. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#conn.isOpen) await this.#conn.close();
  }

  // Infrastructure failures surface as one retryable code; the cause keeps the driver's error.
  async #guard<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new GatewayError('PSL_SHUTTING_DOWN', `redis store is closed (${op})`);
    try {
      return await fn();
    } catch (err) {
      if (isGatewayError(err)) throw err;
      throw new GatewayError('PSL_STORE_UNAVAILABLE', `redis store ${op} failed`, { cause: err });
    }
  }
}

function bodySlot(id: string): string {
  return `raw:${id}`;
}

const refSlot = (id: string): string => `ref:${id}`;
const requestSlot = (id: string): string => `req:${id}`;

function parseMeta(json: string): StoredMeta {
  try {
    return JSON.parse(json) as StoredMeta;
  } catch (cause) {
    throw new GatewayError('PSL_STORE_CORRUPT', 'raw metadata is not JSON', { cause });
  }
}
