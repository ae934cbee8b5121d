import { RESP_TYPES } from 'redis';
import { GatewayError, isGatewayError } from '../core/errors.js';
import type { Logger } from '../log.js';
import type { AtRestCipher } from '../store/at-rest.js';
import { migrateRelayKeys } from './redis-relay-migrate.js';
import { connectRelay, type RelayConn } from './redis-relay-conn.js';
import { RELAY_FORMAT, RelaySealer } from './relay-seal.js';
import type { RelayPut, RelayStore } from './relay-store.js';

const AS_BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

type Conn = RelayConn;

/**
 * Log append at an expected position.
 * KEYS[1] log list; ARGV[1] expected length (the new entry's position); ARGV[2] entry bytes.
 * Returns 1 when appended, 0 when the position was already taken.
 */
const LOG_APPEND_1 = `
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
return 1`;

/**
 * List append with an expiry that only moves forward.
 * KEYS[1] list; ARGV[1] item; ARGV[2] expiry (epoch ms). Returns the new length.
 */
const LIST_APPEND_1 = `
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
local ttl = redis.call('PEXPIRETIME', KEYS[1])
if ttl < tonumber(ARGV[2]) then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return n`;

/**
 * Several values in one step, unless the first key holds a live value.
 * KEYS[1] guard, KEYS[2..n] the others; ARGV[2i-1], ARGV[2i] value and expiry (epoch ms) of KEYS[i].
 * Returns the guard's existing value (nothing written), or nil when everything was written.
 */
const PUT_ALL_IF_ABSENT_N = `
local old = redis.call('GET', KEYS[1])
if old then return old end
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PXAT', ARGV[2 * i]) end
return false`;

function arg(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * RelayStore on Redis under its own key prefix (`<prefix>relay:`). Expiry is Redis's own
 * (PXAT / PEXPIREAT); set-if-absent is `SET NX GET` (Redis ≥ 7.0) in one command, a batch is one
 * script. Durability is the server's AOF setting, exactly as for RedisStore (see
 * redis-durability.ts there). Values are sealed and keys hashed (relay-seal.ts); keys written
 * before that (layout 1) are migrated when the store is opened (redis-relay-migrate.ts).
 */
export class RedisRelayStore implements RelayStore {
  readonly location: string;
  readonly #conn: Conn;
  readonly #prefix: string;
  readonly #seal: RelaySealer;

  private constructor(conn: Conn, prefix: string, sealer: RelaySealer) {
    this.#conn = conn;
    this.#prefix = prefix;
    this.#seal = sealer;
    this.location = prefix;
  }

  /**
   * Connects its own client, and migrates a layout-1 prefix.
   * @param options.url - redis URL
   * @param options.prefix - key prefix of this relay (e.g. `<store prefix>relay:`)
   * @param options.cipher - the gateway's at-rest cipher (data key)
   */
  static async open(options: { url: string; prefix: string; cipher: AtRestCipher; log?: Logger }): Promise<RedisRelayStore> {
    const conn = connectRelay(options.url);
    conn.on('error', (err: unknown) => options.log?.warn({ err: { name: (err as Error).name } }, 'relay redis connection error'));
    try {
      await conn.connect();
    } catch (cause) {
      throw new GatewayError('PSL_STORE_UNAVAILABLE', 'cannot connect to redis', { cause });
    }
    const sealer = new RelaySealer(options.cipher);
    try {
      const moved = await migrateRelayKeys(conn, options.prefix, sealer, RELAY_FORMAT);
      if (moved > 0) options.log?.info({ keys: moved }, 'relay keys sealed at rest (layout 1 migrated)');
    } catch (err) {
      await conn.quit().catch(() => undefined);
      throw err;
    }
    return new RedisRelayStore(conn, options.prefix, sealer);
  }

  put(key: string, value: Uint8Array, expiresAt: number): Promise<void> {
    const k = this.#seal.key(key);
    return this.#guard(async () => {
      await this.#conn.sendCommand(['SET', this.#k(k), arg(this.#seal.seal(k, value)), 'PXAT', String(expiresAt)]);
    });
  }

  putIfAbsent(key: string, value: Uint8Array, expiresAt: number): Promise<Uint8Array | undefined> {
    const k = this.#seal.key(key);
    return this.#guard(async () => {
      const old = await this.#conn.sendCommand<Buffer | null>(
        ['SET', this.#k(k), arg(this.#seal.seal(k, value)), 'NX', 'GET', 'PXAT', String(expiresAt)], { typeMapping: AS_BUFFERS });
      return old === null ? undefined : this.#seal.open(k, old);
    });
  }

  putAllIfAbsent(guard: RelayPut, others: readonly RelayPut[]): Promise<Uint8Array | undefined> {
    const all = [guard, ...others];
    const keys = all.map((p) => this.#seal.key(p.key));
    const args = all.flatMap((p, i) => [arg(this.#seal.seal(keys[i]!, p.value)), String(p.expiresAt)]);
    return this.#guard(async () => {
      const old = await this.#conn.sendCommand<Buffer | null>(
        ['EVAL', PUT_ALL_IF_ABSENT_N, String(keys.length), ...keys.map((k) => this.#k(k)), ...args], { typeMapping: AS_BUFFERS });
      return old === null ? undefined : this.#seal.open(keys[0]!, old);
    });
  }

  get(key: string): Promise<Uint8Array | undefined> {
    const k = this.#seal.key(key);
    return this.#guard(async () => {
      const v = await this.#conn.sendCommand<Buffer | null>(['GET', this.#k(k)], { typeMapping: AS_BUFFERS });
      return v === null ? undefined : this.#seal.open(k, v);
    });
  }

  delete(key: string): Promise<void> {
    const k = this.#seal.key(key);
    return this.#guard(async () => {
      await this.#conn.sendCommand(['DEL', this.#k(k)]);
    });
  }

  listAppend(key: string, value: Uint8Array, expiresAt: number): Promise<number> {
    const k = this.#seal.key(key);
    return this.#guard(() => this.#conn.sendCommand<number>(['EVAL', LIST_APPEND_1, '1', this.#k(k), arg(this.#seal.seal(k, value)), String(expiresAt)]));
  }

  listRead(key: string): Promise<Uint8Array[]> {
    const k = this.#seal.key(key);
    return this.#guard(async () => {
      const items = await this.#conn.sendCommand<Buffer[]>(['LRANGE', this.#k(k), '0', '-1'], { typeMapping: AS_BUFFERS });
      return items.map((b) => this.#seal.open(k, b));
    });
  }

  logAppend(log: string, seq: number, entry: Uint8Array): Promise<boolean> {
    const lk = this.#seal.logKey(log);
    return this.#guard(async () =>
      (await this.#conn.sendCommand<number>(['EVAL', LOG_APPEND_1, '1', this.#k(lk), String(seq), arg(this.#seal.sealEntry(lk, seq, entry))])) === 1);
  }

  logRead(log: string, fromSeq: number): Promise<Uint8Array[]> {
    const lk = this.#seal.logKey(log);
    return this.#guard(async () => {
      const items = await this.#conn.sendCommand<Buffer[]>(['LRANGE', this.#k(lk), String(fromSeq), '-1'], { typeMapping: AS_BUFFERS });
      return items.map((b, i) => this.#seal.openEntry(lk, fromSeq + i, b));
    });
  }

  async close(): Promise<void> {
    if (this.#conn.isOpen) await this.#conn.quit();
  }

  #k(key: string): string {
    return `${this.#prefix}${key}`;
  }

  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      // A value that does not open (PSL_STORE_CORRUPT) is not a connection problem.
      if (isGatewayError(cause)) throw cause;
      throw new GatewayError('PSL_STORE_UNAVAILABLE', 'relay redis command failed', { cause });
    }
  }
}
