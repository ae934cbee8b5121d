import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { GatewayError, isGatewayError } from '../../protocol/errors.js';
import type { DeliverySettlement, EnvelopeAcceptance, RelayStore } from '../core/relay-store.js';
import type { AuditEvent, Lease } from '../core/types.js';
import type { AtRestCipher } from './at-rest.js';
import type { LmdbDbs, RelaySlot } from './lmdb-schema.js';
import type { LmdbQueues } from './lmdb-queue.js';
import { RELAY_FORMAT, RelaySealer } from './relay-seal.js';

type Slot = Extract<RelaySlot, { v: Uint8Array }>;
type ListSlot = Extract<RelaySlot, { items: Uint8Array[] }>;

/** What the relay's commits write in the Store's own tables (LmdbStore passes them in). */
export interface LmdbStoreParts {
  readonly queues: LmdbQueues;
  /** Appends an audit entry inside the running write transaction. */
  readonly auditWithin: (event: AuditEvent) => void;
}

/**
 * RelayStore on LMDB, in the Store's own environment (sub-databases `relay-kv`, `relay-log`,
 * `relay-meta`), so accepting an envelope and settling a delivery are one write transaction
 * with their queue entries and audit entry: one commit, one fsync, and no state where one is
 * durable without the other. Same durability rule as LmdbStore: a resolved write has been
 * fsynced, and writes queued in one event turn share one commit. Expired values are invisible at
 * once and swept every minute. Values are sealed and keys hashed (relay-seal.ts). When opened,
 * a relay environment of an earlier version (its own directory, `<store path>-relay`) is copied
 * in, in one transaction, and removed; a layout-1 one (plain values) is then sealed.
 */
export class LmdbRelayStore implements RelayStore {
  readonly location: string;
  readonly #env: RootDatabase;
  readonly #kv: Database<Slot | ListSlot, string>;
  readonly #log: Database<Uint8Array, [string, number]>;
  readonly #meta: Database<number | Uint8Array, string>;
  readonly #parts: LmdbStoreParts;
  readonly #seal: RelaySealer;
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;

  private constructor(location: string, dbs: LmdbDbs, parts: LmdbStoreParts, sealer: RelaySealer) {
    this.location = location;
    this.#env = dbs.env;
    this.#kv = dbs.relayKv;
    this.#log = dbs.relayLog;
    this.#meta = dbs.relayMeta;
    this.#parts = parts;
    this.#seal = sealer;
    this.#sweeper = setInterval(() => {
      this.#sweep().catch(() => undefined);
    }, 60_000);
    this.#sweeper.unref();
  }

  /**
   * The relay's tables in an open LmdbStore environment.
   * @param path - the Store's directory (its `-relay` sibling is an earlier version's relay environment)
   * @param dbs - the Store's opened environment
   * @param parts - the Store's queues and audit append
   * @param cipher - the gateway's at-rest cipher (data key)
   * @throws GatewayError PSL_STORE_CORRUPT when the tables have a newer layout, or values that do
   *   not open with this data key
   */
  static async open(path: string, dbs: LmdbDbs, parts: LmdbStoreParts, cipher: AtRestCipher): Promise<LmdbRelayStore> {
    const store = new LmdbRelayStore(path, dbs, parts, new RelaySealer(cipher));
    try {
      await store.#adopt(`${path}-relay`);
      store.#upgrade();
    } catch (err) {
      store.close().catch(() => undefined);
      if (isGatewayError(err)) throw err;
      throw new GatewayError('PSL_STORE_UNAVAILABLE', `relay tables at ${path} could not be upgraded`, { cause: err });
    }
    return store;
  }

  async acceptEnvelope(a: EnvelopeAcceptance): Promise<Uint8Array | undefined> {
    // Sealed before the transaction, so the write lock covers lookups and puts only.
    const sealed = [a.receipt, ...a.values].map((p) => {
      const k = this.#seal.key(p.key);
      return { k, slot: { v: this.#seal.seal(k, p.value), exp: p.expiresAt } satisfies Slot };
    });
    const guard = sealed[0]!;
    const existing = await this.#writeAll(() => {
      const live = this.#live(guard.k);
      if (live && 'v' in live) return live.v;
      for (const { k, slot } of sealed) this.#kv.put(k, slot);
      for (const d of a.deliveries) this.#parts.queues.enqueueWithin(d.queue, d.item);
      this.#parts.auditWithin(a.audit);
      return undefined;
    });
    return existing === undefined ? undefined : this.#seal.open(guard.k, existing);
  }

  settleDelivery(lease: Lease, s: DeliverySettlement): Promise<number> {
    const k = this.#seal.key(s.outcome.key);
    const item = this.#seal.seal(k, s.outcome.value);
    const drop = this.#seal.key(s.drop.key);
    return this.#writeAll(() => {
      // Checked before anything is written: a plain transaction callback keeps writes made before a throw.
      if (!this.#parts.queues.holds(lease)) throw new GatewayError('PSL_LEASE_LOST', 'the delivery lease is no longer held');
      this.#parts.queues.completeWithin(lease);
      const count = this.#appendWithin(k, item, s.outcome.expiresAt);
      this.#parts.auditWithin(s.audit);
      if (count >= s.drop.count) this.#kv.remove(drop);
      return count;
    });
  }

  put(key: string, value: Uint8Array, expiresAt: number): Promise<void> {
    const k = this.#seal.key(key);
    const slot: Slot = { v: this.#seal.seal(k, value), exp: expiresAt };
    return this.#write(() => {
      this.#kv.put(k, slot);
    });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const k = this.#seal.key(key);
    const slot = this.#read(() => this.#live(k));
    return slot && 'v' in slot ? this.#seal.open(k, slot.v) : undefined;
  }

  delete(key: string): Promise<void> {
    const k = this.#seal.key(key);
    return this.#write(() => {
      this.#kv.remove(k);
    });
  }

  listAppend(key: string, value: Uint8Array, expiresAt: number): Promise<number> {
    const k = this.#seal.key(key);
    const item = this.#seal.seal(k, value);
    return this.#write(() => this.#appendWithin(k, item, expiresAt));
  }

  async listRead(key: string): Promise<Uint8Array[]> {
    const k = this.#seal.key(key);
    const slot = this.#read(() => this.#live(k));
    return slot && 'items' in slot ? slot.items.map((i) => this.#seal.open(k, i)) : [];
  }

  logAppend(log: string, seq: number, entry: Uint8Array): Promise<boolean> {
    const lk = this.#seal.logKey(log);
    const sealed = this.#seal.sealEntry(lk, seq, entry);
    return this.#write(() => {
      // The check and the put share the write transaction: positions cannot be taken twice.
      if (this.#log.doesExist([lk, seq])) return false;
      if (seq > 0 && !this.#log.doesExist([lk, seq - 1])) return false;
      this.#log.put([lk, seq], sealed);
      return true;
    });
  }

  async logRead(log: string, fromSeq: number): Promise<Uint8Array[]> {
    const lk = this.#seal.logKey(log);
    const range = this.#read(() => [...this.#log.getRange({ start: [lk, fromSeq], end: [lk, Number.MAX_SAFE_INTEGER] })]);
    return range.map((e) => this.#seal.openEntry(lk, e.key[1], e.value));
  }

  /** Stops the sweep; the environment is the Store's, which closes it. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
  }

  #appendWithin(k: string, item: Uint8Array, expiresAt: number): number {
    const existing = this.#live(k);
    const items = existing && 'items' in existing ? existing.items : [];
    items.push(item);
    this.#kv.put(k, { items, exp: Math.max(expiresAt, existing?.exp ?? 0) });
    return items.length;
  }

  /**
   * Move an earlier version's relay environment (its own directory beside the Store's, same
   * sub-database names and encodings) into these tables: every entry they lack, in one
   * transaction, then the directory is removed. A layout-1 one (plain values under clear keys)
   * is sealed on the way, so no clear byte is ever written to the Store's file. A crash before
   * the copy commits leaves the old directory to copy again; after it, the copy finds nothing
   * missing and only the removal runs.
   */
  async #adopt(oldPath: string): Promise<void> {
    if (!existsSync(join(oldPath, 'data.mdb'))) return;
    const old = open({ path: oldPath, maxDbs: 4, readOnly: true } as Parameters<typeof open>[0]);
    try {
      const kv = old.openDB<Slot | ListSlot, string>('relay-kv', { encoding: 'msgpack' });
      const log = old.openDB<Uint8Array, [string, number]>('relay-log', { encoding: 'binary' });
      const meta = old.openDB<number | Uint8Array, string>('relay-meta', { encoding: 'msgpack' });
      const format = meta.get('format');
      if (format !== undefined && format !== RELAY_FORMAT) {
        throw new GatewayError('PSL_STORE_CORRUPT', `relay store at ${oldPath} has layout ${String(format)}; this gateway reads layout ${RELAY_FORMAT}: run the version that wrote it`);
      }
      const plain = format === undefined;
      const check = meta.get('key-check');
      if (check instanceof Uint8Array) this.#seal.assertKeyCheck(check, oldPath);
      this.#env.transactionSync(() => {
        for (const { key, value } of kv.getRange({})) {
          const k = plain ? this.#seal.key(key) : key;
          if (!this.#kv.doesExist(k)) this.#kv.put(k, plain ? this.#sealSlot(k, value) : value);
        }
        for (const { key: [name, seq], value } of log.getRange({})) {
          const lk = plain ? this.#seal.logKey(name) : name;
          if (!this.#log.doesExist([lk, seq])) this.#log.put([lk, seq], plain ? this.#seal.sealEntry(lk, seq, value) : value);
        }
        if (this.#meta.get('format') === undefined) this.#mark();
      });
    } finally {
      await old.close();
    }
    rmSync(oldPath, { recursive: true, force: true });
  }

  #sealSlot(k: string, value: Slot | ListSlot): Slot | ListSlot {
    return 'v' in value ? { v: this.#seal.seal(k, value.v), exp: value.exp } : { items: value.items.map((i) => this.#seal.seal(k, i)), exp: value.exp };
  }

  /** Marks the tables as this layout, sealed under this data key. */
  #mark(): void {
    this.#meta.put('format', RELAY_FORMAT);
    this.#meta.put('key-check', this.#seal.keyCheck());
  }

  #live(key: string): Slot | ListSlot | undefined {
    const slot = this.#kv.get(key);
    return slot && slot.exp > Date.now() ? slot : undefined;
  }

  /** Checks the tables' layout and data key, or marks fresh ones; a newer layout is refused. */
  #upgrade(): void {
    this.#env.transactionSync(() => {
      const format = this.#meta.get('format');
      if (format === undefined) return this.#mark();
      if (format !== RELAY_FORMAT) {
        throw new GatewayError('PSL_STORE_CORRUPT',
          `relay store at ${this.location} has layout ${String(format)}; this gateway reads layout ${RELAY_FORMAT}: run the version that wrote it`);
      }
      const check = this.#meta.get('key-check');
      if (check instanceof Uint8Array) this.#seal.assertKeyCheck(check, this.location);
      else this.#meta.put('key-check', this.#seal.keyCheck());
    });
  }

  async #sweep(): Promise<void> {
    if (this.#closed) return;
    const now = Date.now();
    const dead: string[] = [];
    for (const { key, value } of this.#kv.getRange({})) if (value.exp <= now) dead.push(key);
    if (dead.length > 0) await this.#write(() => {
      for (const key of dead) {
        const slot = this.#kv.get(key);
        if (slot && slot.exp <= now) this.#kv.remove(key);
      }
    });
  }

  /**
   * A write of several keys that could throw after the first (a queue or audit write), in a child
   * transaction of the group commit, which a throw rolls back: a plain lmdb-js transaction
   * callback keeps what it wrote before throwing.
   */
  #writeAll<T>(fn: () => T): Promise<T> {
    return this.#write(fn, true);
  }

  /** One write in the group commit (`child`: see #writeAll). */
  async #write<T>(fn: () => T, child = false): Promise<T> {
    if (this.#closed) throw new GatewayError('PSL_SHUTTING_DOWN', 'relay store is closed');
    try {
      return await (child ? this.#env.childTransaction(fn) : this.#env.transaction(fn));
    } catch (err) {
      if (isGatewayError(err)) throw err;
      throw new GatewayError('PSL_STORE_UNAVAILABLE', 'relay lmdb write failed', { cause: err });
    }
  }

  #read<T>(fn: () => T): T {
    if (this.#closed) throw new GatewayError('PSL_SHUTTING_DOWN', 'relay store is closed');
    try {
      return fn();
    } catch (err) {
      throw new GatewayError('PSL_STORE_UNAVAILABLE', 'relay lmdb read failed', { cause: err });
    }
  }
}
