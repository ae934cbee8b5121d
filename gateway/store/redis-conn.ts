import { createHash } from 'node:crypto';
import { createClient, RESP_TYPES, type RedisArgument } from 'redis';
import { GatewayError } from '../../protocol/errors.js';

/** Reconnect attempts before the first connect gives up (a wrong URL should fail the boot, not hang it). */
const FIRST_CONNECT_RETRIES = 2;
const MAX_BACKOFF_MS = 2000;

/**
 * One node-redis connection speaking RESP3. Concurrent commands on it are pipelined by the client,
 * so the store needs no pool: every atomic step is a single command or a Lua script.
 * Once connected it reconnects forever with backoff, and while it is down commands fail at once
 * (no offline queue): the caller NAKs with a retryable code instead of holding a sender's ACK.
 * @param url - `redis://host:port/db`
 */
export function createConn(url: string) {
  let connectedOnce = false;
  const conn = createClient({
    url,
    RESP: 3,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 5000,
      reconnectStrategy: (retries: number, cause: Error) =>
        (!connectedOnce && retries >= FIRST_CONNECT_RETRIES ? cause : Math.min(50 * 2 ** retries, MAX_BACKOFF_MS)),
    },
  });
  conn.on('ready', () => {
    connectedOnce = true;
  });
  return conn;
}

/** The connection type every RedisStore module works with. */
export type RedisConn = ReturnType<typeof createConn>;

/** Reply mapping that keeps bulk strings as Buffers: sealed blobs are binary. */
export const AS_BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

/** A Uint8Array as a Redis argument without copying. */
export function toArg(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A Lua script embedded as a string (tsc does not copy .lua files to dist/, so sources and the
 * compiled build find it the same way). Runs by EVALSHA and falls back to EVAL when the server
 * does not know the script yet (first use, SCRIPT FLUSH, failover), which also caches it.
 */
export class LuaScript {
  readonly sha: string;

  /**
   * @param name - `<op>-<nkeys>`, as the file would be named
   * @param numKeys - how many KEYS the script takes; undefined when the count varies per call
   * @param source - the Lua source, starting with its header comment
   */
  constructor(readonly name: string, readonly numKeys: number | undefined, readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /**
   * @param conn - connection to run on
   * @param keys - KEYS[1..n]
   * @param args - ARGV[1..m]
   * @param options - `binary` keeps bulk-string replies as Buffers
   */
  async run<T>(conn: RedisConn, keys: readonly string[], args: readonly RedisArgument[],
    options: { binary?: boolean } = {}): Promise<T> {
    if (this.numKeys !== undefined && keys.length !== this.numKeys) {
      throw new GatewayError('PSL_INTERNAL', `script ${this.name} takes ${this.numKeys} keys, got ${keys.length}`);
    }
    const tail: RedisArgument[] = [String(keys.length), ...keys, ...args];
    const commandOptions = options.binary ? { typeMapping: AS_BUFFERS } : undefined;
    try {
      return await conn.sendCommand<T>(['EVALSHA', this.sha, ...tail], commandOptions);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return await conn.sendCommand<T>(['EVAL', this.source, ...tail], commandOptions);
    }
  }
}
