import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { GatewayError, isGatewayError } from '../core/errors.js';
import type { RelayStore } from './relay-store.js';

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
 * turn share one commit. Expired values are invisible at once and swept every minute.
 */
export class LmdbRelayStore implements RelayStore {
  readonly location: string;
  readonly #env: RootDatabase;
  readonly #kv: Database<Slot | ListSlot, string>;
  readonly #log: Database<Uint8Array, [string, number]>;
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;

  private constructor(path: string, env: RootDatabase) {
    this.location = path;
    this.#env = env;
    this.#kv = env.openDB('relay-kv', { encoding: 'msgpack' });
    this.#log = env.openDB('relay-log', { encoding: 'binary' });
    this.#sweeper = setInterval(() => {
      this.#sweep().catch(() => undefined);
    }, 60_000);
    this.#sweeper.unref();
  }

  /**
   * Opens (or creates) the environment at `path`.
   * @param path - directory of its own (e.g. `<store path>-relay`)
   */
  static open(path: string): LmdbRelayStore {
    try {
      // 0600 files in a 0700 directory, whatever the umask.
      mkdirSync(path, { recursive: true, mode: 0o700 });
      chmodSync(path, 0o700);
      const env = open({ path, overlappingSync: false, maxDbs: 4, permissionsMode: 0o600 } as Parameters<typeof open>[0]);
      for (const f of ['data.mdb', 'lock.mdb']) if (existsSync(join(path, f))) chmodSync(join(path, f), 0o600);
      return new LmdbRelayStore(path, env);
    } catch (cause) {
      throw new GatewayError('PSL_STORE_UNAVAILABLE', 'relay lmdb environment could not be opened', { cause });
    }
  }

  put(key: string, value: Uint8Array, expiresAt: number): Promise<void> {
    return this.#write(() => {
      this.#kv.put(key, { v: value, exp: expiresAt });
    });
  }

  putIfAbsent(key: string, value: Uint8Array, expiresAt: number): Promise<Uint8Array | undefined> {
    return this.#write(() => {
      const existing = this.#live(key);
      if (existing && 'v' in existing) return existing.v;
      this.#kv.put(key, { v: value, exp: expiresAt });
      return undefined;
    });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const slot = this.#read(() => this.#live(key));
    return slot && 'v' in slot ? slot.v : undefined;
  }

  delete(key: string): Promise<void> {
    return this.#write(() => {
      this.#kv.remove(key);
    });
  }

  listAppend(key: string, value: Uint8Array, expiresAt: number): Promise<number> {
    return this.#write(() => {
      const existing = this.#live(key);
      const items = existing && 'items' in existing ? existing.items : [];
      items.push(value);
      this.#kv.put(key, { items, exp: Math.max(expiresAt, existing?.exp ?? 0) });
      return items.length;
    });
  }

  async listRead(key: string): Promise<Uint8Array[]> {
    const slot = this.#read(() => this.#live(key));
    return slot && 'items' in slot ? slot.items : [];
  }

  logAppend(log: string, seq: number, entry: Uint8Array): Promise<boolean> {
    return this.#write(() => {
      // The check and the put share the write transaction: positions cannot be taken twice.
      if (this.#log.doesExist([log, seq])) return false;
      if (seq > 0 && !this.#log.doesExist([log, seq - 1])) return false;
      this.#log.put([log, seq], entry);
      return true;
    });
  }

  async logRead(log: string, fromSeq: number): Promise<Uint8Array[]> {
    return this.#read(() => [...this.#log.getRange({ start: [log, fromSeq], end: [log, Number.MAX_SAFE_INTEGER] })].map((e) => e.value));
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
