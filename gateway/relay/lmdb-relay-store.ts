import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { GatewayError, isGatewayError } from '../core/errors.js';
import type { AtRestCipher } from '../store/at-rest.js';
import { RELAY_FORMAT, RelaySealer } from './relay-seal.js';
import type { RelayPut, RelayStore } from './relay-store.js';

interface Slot {
  v: Uint8Array;
  /** epoch ms */
  exp: number;
}

interface ListSlot {
  items: Uint8Array[];
  exp: number;
}

/**
 * RelayStore on LMDB, in its own environment (a directory next to the Store's), so neither
 * store's layout or map size constrains the other. Same durability rule as LmdbStore:
 * `overlappingSync: false`, so a resolved write has been fsynced; writes queued in one event
 * turn share one commit (so concurrent accepts share one fsync). Expired values are invisible at
 * once and swept every minute. Values are sealed and keys hashed (relay-seal.ts); an environment
 * written before that (layout 1) is migrated in one transaction when it is opened.
 */
export class LmdbRelayStore implements RelayStore {
  readonly location: string;
  readonly #env: RootDatabase;
  readonly #kv: Database<Slot | ListSlot, string>;
  readonly #log: Database<Uint8Array, [string, number]>;
  readonly #meta: Database<number | Uint8Array, string>;
  readonly #seal: RelaySealer;
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;

  private constructor(path: string, env: RootDatabase, sealer: RelaySealer) {
    this.location = path;
    this.#env = env;
    this.#seal = sealer;
    this.#kv = env.openDB('relay-kv', { encoding: 'msgpack' });
    this.#log = env.openDB('relay-log', { encoding: 'binary' });
    this.#meta = env.openDB('relay-meta', { encoding: 'msgpack' });
    this.#sweeper = setInterval(() => {
      this.#sweep().catch(() => undefined);
    }, 60_000);
    this.#sweeper.unref();
  }

  /**
   * Opens (or creates) the environment at `path`.
   * @param path - directory of its own (e.g. `<store path>-relay`)
   * @param cipher - the gateway's at-rest cipher (data key)
   * @throws GatewayError PSL_STORE_CORRUPT when the environment has a newer layout, or values that
   *   do not open with this data key
   */
  static open(path: string, cipher: AtRestCipher): LmdbRelayStore {
    let store: LmdbRelayStore;
    try {
      // 0600 files in a 0700 directory, whatever the umask.
      mkdirSync(path, { recursive: true, mode: 0o700 });
      chmodSync(path, 0o700);
      const env = open({ path, overlappingSync: false, maxDbs: 4, permissionsMode: 0o600 } as Parameters<typeof open>[0]);
      for (const f of ['data.mdb', 'lock.mdb']) if (existsSync(join(path, f))) chmodSync(join(path, f), 0o600);
      store = new LmdbRelayStore(path, env, new RelaySealer(cipher));
    } catch (cause) {
      throw new GatewayError('PSL_STORE_UNAVAILABLE', 'relay lmdb environment could not be opened', { cause });
    }
    try {
      store.#upgrade();
    } catch (err) {
      store.close().catch(() => undefined);
      if (isGatewayError(err)) throw err;
      throw new GatewayError('PSL_STORE_UNAVAILABLE', `relay lmdb environment at ${path} could not be upgraded`, { cause: err });
    }
    return store;
  }

  put(key: string, value: Uint8Array, expiresAt: number): Promise<void> {
    const k = this.#seal.key(key);
    // Sealed before the transaction, so the write lock covers lookups and puts only.
    const slot: Slot = { v: this.#seal.seal(k, value), exp: expiresAt };
    return this.#write(() => {
      this.#kv.put(k, slot);
    });
  }

  putIfAbsent(key: string, value: Uint8Array, expiresAt: number): Promise<Uint8Array | undefined> {
    return this.putAllIfAbsent({ key, value, expiresAt }, []);
  }

  async putAllIfAbsent(guard: RelayPut, others: readonly RelayPut[]): Promise<Uint8Array | undefined> {
    const sealed = [guard, ...others].map((p) => {
      const k = this.#seal.key(p.key);
      return { k, slot: { v: this.#seal.seal(k, p.value), exp: p.expiresAt } satisfies Slot };
    });
    const g = sealed[0]!;
    const existing = await this.#write(() => {
      const live = this.#live(g.k);
      if (live && 'v' in live) return live.v;
      for (const { k, slot } of sealed) this.#kv.put(k, slot);
      return undefined;
    });
    return existing === undefined ? undefined : this.#seal.open(g.k, existing);
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
    return this.#write(() => {
      const existing = this.#live(k);
      const items = existing && 'items' in existing ? existing.items : [];
      items.push(item);
      this.#kv.put(k, { items, exp: Math.max(expiresAt, existing?.exp ?? 0) });
      return items.length;
    });
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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    await this.#env.close();
  }

  #live(key: string): Slot | ListSlot | undefined {
    const slot = this.#kv.get(key);
    return slot && slot.exp > Date.now() ? slot : undefined;
  }

  /**
   * Bring a layout-1 environment (plain values under clear keys) to the sealed layout, in one
   * transaction: a crash leaves it either untouched or fully migrated. A newer layout is refused.
   */
  #upgrade(): void {
    this.#env.transactionSync(() => {
      const format = this.#meta.get('format');
      if (format === RELAY_FORMAT) {
        const check = this.#meta.get('key-check');
        if (check instanceof Uint8Array) this.#seal.assertKeyCheck(check, this.location);
        else this.#meta.put('key-check', this.#seal.keyCheck());
        return;
      }
      if (format !== undefined) {
        throw new GatewayError('PSL_STORE_CORRUPT',
          `relay store at ${this.location} has layout ${format}; this gateway reads layout ${RELAY_FORMAT}: run the version that wrote it`);
      }
      // Materialised first: the loops below rewrite the ranges they came from.
      for (const { key, value } of [...this.#kv.getRange({})]) {
        const k = this.#seal.key(key);
        this.#kv.remove(key);
        this.#kv.put(k, 'v' in value
          ? { v: this.#seal.seal(k, value.v), exp: value.exp }
          : { items: value.items.map((i) => this.#seal.seal(k, i)), exp: value.exp });
      }
      for (const { key: [log, seq], value } of [...this.#log.getRange({})]) {
        const lk = this.#seal.logKey(log);
        this.#log.remove([log, seq]);
        this.#log.put([lk, seq], this.#seal.sealEntry(lk, seq, value));
      }
      this.#meta.put('format', RELAY_FORMAT);
      this.#meta.put('key-check', this.#seal.keyCheck());
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

  async #write<T>(fn: () => T): Promise<T> {
    if (this.#closed) throw new GatewayError('PSL_SHUTTING_DOWN', 'relay store is closed');
    try {
      return await this.#env.transaction(fn);
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
