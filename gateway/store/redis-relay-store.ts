import { GatewayError, isGatewayError } from '../../protocol/errors.js';
import type { DeliverySettlement, EnvelopeAcceptance, RelayStore } from '../core/relay-store.js';
import type { Lease } from '../core/types.js';
import type { Logger } from '../log.js';
import type { AtRestCipher } from './at-rest.js';
import type { RedisAudit } from './redis-audit.js';
import { AS_BUFFERS, toArg as arg, type RedisConn } from './redis-conn.js';
import type { RedisKeys } from './redis-keys.js';
import { GROUP } from './redis-queue.js';
import { migrateRelayKeys } from './redis-relay-migrate.js';
import { RELAY_ACCEPT, RELAY_SETTLE } from './redis-relay-scripts.js';
import { RELAY_FORMAT, RelaySealer } from './relay-seal.js';

/** What the relay's scripts write under the Store's own keys (RedisStore passes them in). */
export interface RedisStoreParts {
  readonly keys: RedisKeys;
  readonly audit: RedisAudit;
}

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
/**
 * RelayStore on the Store's Redis connection, its values under `<store prefix>relay:`. Expiry is
 * Redis's own (PXAT / PEXPIREAT). Accepting an envelope and settling a delivery are one script
 * each with the Store's queue and audit keys (redis-relay-scripts.ts); on Redis Cluster a hash tag
 * in the store prefix keeps them in one slot. Durability is the server's AOF setting, exactly as
 * for RedisStore (see redis-durability.ts there). Values are sealed and keys hashed (relay-seal.ts); keys written
 * before that (layout 1) are migrated when the store is opened (redis-relay-migrate.ts).
 */
export class RedisRelayStore implements RelayStore {
  readonly location: string;
  readonly #conn: RedisConn;
  readonly #prefix: string;
  readonly #seal: RelaySealer;
  readonly #parts: RedisStoreParts;

  private constructor(conn: RedisConn, prefix: string, sealer: RelaySealer, parts: RedisStoreParts) {
    this.#conn = conn;
    this.#prefix = prefix;
    this.#seal = sealer;
    this.#parts = parts;
    this.location = prefix;
  }

  /**
   * The relay's values on the Store's connection; a layout-1 prefix is migrated first.
   * @param options.conn - the Store's connection (closed by the Store)
   * @param options.prefix - key prefix of the relay's values (`<store prefix>relay:`)
   * @param options.cipher - the gateway's at-rest cipher (data key)
   * @param options.parts - the Store's key layout and audit log
   */
  static async open(options: { conn: RedisConn; prefix: string; cipher: AtRestCipher; parts: RedisStoreParts; log?: Logger }): Promise<RedisRelayStore> {
    const sealer = new RelaySealer(options.cipher);
    const moved = await migrateRelayKeys(options.conn, options.prefix, sealer, RELAY_FORMAT);
    if (moved > 0) options.log?.info({ keys: moved }, 'relay keys sealed at rest (layout 1 migrated)');
    return new RedisRelayStore(options.conn, options.prefix, sealer, options.parts);
  }

  acceptEnvelope(a: EnvelopeAcceptance): Promise<Uint8Array | undefined> {
    const puts = [a.receipt, ...a.values];
    const keys = puts.map((p) => this.#seal.key(p.key));
    const values = puts.flatMap((p, i) => [arg(this.#seal.seal(keys[i]!, p.value)), String(p.expiresAt)]);
    const queueKeys = a.deliveries.flatMap((d) => {
      const q = this.#parts.keys.queue(d.queue);
      return [q.stream, q.payload, q.state, q.delayed, q.waiting];
    });
    const items = a.deliveries.flatMap((d) => [d.item.id, JSON.stringify(d.item.payload)]);
    const scriptKeys = [this.#parts.keys.audit(), ...keys.map((k) => this.#k(k)), ...queueKeys];
    return this.#guard(() => this.#parts.audit.appendVia<Uint8Array | undefined>(a.audit, async (entry, json) => {
      const reply = await RELAY_ACCEPT.run<[number, Buffer?]>(this.#conn, scriptKeys,
        [String(entry.seq - 1), json, String(Date.now()), GROUP, String(a.values.length), String(a.deliveries.length), ...values, ...items],
        { binary: true });
      if (reply[0] === 2) return { chained: false };
      return { chained: true, value: reply[0] === 1 ? this.#seal.open(keys[0]!, reply[1]!) : undefined };
    }));
  }

  settleDelivery(lease: Lease, s: DeliverySettlement): Promise<number> {
    const k = this.#seal.key(s.outcome.key);
    const item = arg(this.#seal.seal(k, s.outcome.value));
    const q = this.#parts.keys.queue(lease.queue);
    const scriptKeys = [this.#parts.keys.audit(), this.#k(k), this.#k(this.#seal.key(s.drop.key)), q.stream, q.payload, q.state, q.leases];
    return this.#guard(() => this.#parts.audit.appendVia<number>(s.audit, async (entry, json) => {
      const reply = await RELAY_SETTLE.run<[number, number?]>(this.#conn, scriptKeys,
        [String(entry.seq - 1), json, item, String(s.outcome.expiresAt), String(s.drop.count), lease.item.id, lease.token, GROUP]);
      if (reply[0] === 2) return { chained: false };
      if (reply[0] === 3) throw new GatewayError('PSL_LEASE_LOST', `lease on ${lease.queue}/${lease.item.id} was lost`);
      return { chained: true, value: reply[1]! };
    }));
  }

  put(key: string, value: Uint8Array, expiresAt: number): Promise<void> {
    const k = this.#seal.key(key);
    return this.#guard(async () => {
      await this.#conn.sendCommand(['SET', this.#k(k), arg(this.#seal.seal(k, value)), 'PXAT', String(expiresAt)]);
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

  /** Nothing of its own to close: the connection is the Store's. */
  async close(): Promise<void> {
    // The Store closes the connection.
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
