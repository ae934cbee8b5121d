import { createClient, RESP_TYPES } from 'redis';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../log.js';
import type { RelayStore } from './relay-store.js';

const AS_BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

function connect(url: string) {
  return createClient({ url, RESP: 3 });
}

type Conn = ReturnType<typeof connect>;

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

function arg(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * RelayStore on Redis under its own key prefix (`<prefix>relay:`). Expiry is Redis's own
 * (PXAT / PEXPIREAT); set-if-absent is `SET NX GET` (Redis ≥ 7.0) in one command. Durability is
 * the server's AOF setting, exactly as for RedisStore (see redis-durability.ts there).
 */
export class RedisRelayStore implements RelayStore {
  readonly location: string;
  readonly #conn: Conn;
  readonly #prefix: string;

  private constructor(conn: Conn, prefix: string) {
    this.#conn = conn;
    this.#prefix = prefix;
    this.location = prefix;
  }

  /**
   * Connects its own client.
   * @param options.url - redis URL
   * @param options.prefix - key prefix of this relay (e.g. `<store prefix>relay:`)
   */
  static async open(options: { url: string; prefix: string; log?: Logger }): Promise<RedisRelayStore> {
    const conn = connect(options.url);
    conn.on('error', (err: unknown) => options.log?.warn({ err: { name: (err as Error).name } }, 'relay redis connection error'));
    try {
      await conn.connect();
    } catch (cause) {
      throw new GatewayError('PSL_STORE_UNAVAILABLE', 'cannot connect to redis', { cause });
    }
    return new RedisRelayStore(conn, options.prefix);
  }

  put(key: string, value: Uint8Array, expiresAt: number): Promise<void> {
    return this.#guard(async () => {
      await this.#conn.sendCommand(['SET', this.#k(key), arg(value), 'PXAT', String(expiresAt)]);
    });
  }

  putIfAbsent(key: string, value: Uint8Array, expiresAt: number): Promise<Uint8Array | undefined> {
    return this.#guard(async () => {
      const old = await this.#conn.sendCommand<Buffer | null>(
        ['SET', this.#k(key), arg(value), 'NX', 'GET', 'PXAT', String(expiresAt)], { typeMapping: AS_BUFFERS });
      return old === null ? undefined : new Uint8Array(old);
    });
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.#guard(async () => {
      const v = await this.#conn.sendCommand<Buffer | null>(['GET', this.#k(key)], { typeMapping: AS_BUFFERS });
      return v === null ? undefined : new Uint8Array(v);
    });
  }

  delete(key: string): Promise<void> {
    return this.#guard(async () => {
      await this.#conn.sendCommand(['DEL', this.#k(key)]);
    });
  }

  listAppend(key: string, value: Uint8Array, expiresAt: number): Promise<number> {
    return this.#guard(() => this.#conn.sendCommand<number>(['EVAL', LIST_APPEND_1, '1', this.#k(key), arg(value), String(expiresAt)]));
  }

  listRead(key: string): Promise<Uint8Array[]> {
    return this.#guard(async () => {
      const items = await this.#conn.sendCommand<Buffer[]>(['LRANGE', this.#k(key), '0', '-1'], { typeMapping: AS_BUFFERS });
      return items.map((b) => new Uint8Array(b));
    });
  }

  logAppend(log: string, seq: number, entry: Uint8Array): Promise<boolean> {
    return this.#guard(async () =>
      (await this.#conn.sendCommand<number>(['EVAL', LOG_APPEND_1, '1', this.#k(`log:${log}`), String(seq), arg(entry)])) === 1);
  }

  logRead(log: string, fromSeq: number): Promise<Uint8Array[]> {
    return this.#guard(async () => {
      const items = await this.#conn.sendCommand<Buffer[]>(['LRANGE', this.#k(`log:${log}`), String(fromSeq), '-1'], { typeMapping: AS_BUFFERS });
      return items.map((b) => new Uint8Array(b));
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
      throw new GatewayError('PSL_STORE_UNAVAILABLE', 'relay redis command failed', { cause });
    }
  }
}
