import { randomUUID } from 'node:crypto';
import { GatewayError } from '../../protocol/errors.js';
import type { Lease, QueueItem, QueueStats } from '../core/types.js';
import type { RedisConn } from './redis-conn.js';
import type { RedisKeys } from './redis-keys.js';
import {
  QUEUE_CLAIM, QUEUE_CLAIM_BATCH, QUEUE_COMPLETE, QUEUE_DEAD, QUEUE_ENQUEUE, QUEUE_FAIL, QUEUE_STATS,
} from './redis-queue-scripts.js';

/** The one consumer group every gateway process reads through. */
export const GROUP = 'g';
/**
 * One consumer name for all processes: ownership is proven by the lease token, not by the PEL's
 * consumer, and a fixed name keeps restarts from piling up dead consumers in the group.
 */
const CONSUMER = 'passerelle';

type ClaimReply = [string, string, number, number] | null;
type DeadLetter = { item: QueueItem; reason: string; attempt: number };

/** Per-destination work queues on Redis Streams; see redis-queue-scripts.ts for the model. */
export class RedisQueues {
  /**
   * @param conn - open connection
   * @param keys - key layout under the store's prefix
   */
  constructor(private readonly conn: RedisConn, private readonly keys: RedisKeys) {}

  /**
   * @param queue - queue name (a destination)
   * @param item - id and a payload of ids and codes
   * @param availableAt - epoch ms before which the item is not claimable
   */
  async enqueue(queue: string, item: QueueItem, availableAt?: number): Promise<void> {
    const k = this.keys.queue(queue);
    const now = Date.now();
    await QUEUE_ENQUEUE.run(this.conn, [k.stream, k.payload, k.state, k.delayed, k.waiting],
      [item.id, JSON.stringify(item.payload), String(now), String(availableAt ?? now), GROUP]);
  }

  /**
   * @param queue - queue name
   * @param leaseMs - how long the caller owns the item
   */
  async claim(queue: string, leaseMs: number): Promise<Lease | undefined> {
    if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new GatewayError('PSL_BAD_REQUEST', 'leaseMs must be a positive number');
    const k = this.keys.queue(queue);
    const token = randomUUID();
    const reply = await QUEUE_CLAIM.run<ClaimReply>(this.conn,
      [k.stream, k.payload, k.state, k.delayed, k.leases, k.waiting],
      [String(Date.now()), String(Math.ceil(leaseMs)), token, GROUP, CONSUMER]);
    if (!reply) return undefined;
    const [id, payload, attempt, leaseUntil] = reply;
    return { queue, item: { id, payload: parsePayload(payload, queue) }, token, attempt, leaseUntil };
  }

  /**
   * @param queue - queue name
   * @param options - at most `max` items, each leased for `leaseMs`, if `applier` holds the queue
   */
  async claimBatch(queue: string, options: { max: number; leaseMs: number; applier: string }): Promise<Lease[]> {
    const k = this.keys.queue(queue);
    const token = randomUUID();
    const flat = await QUEUE_CLAIM_BATCH.run<Array<string | number>>(this.conn,
      [k.stream, k.payload, k.state, k.delayed, k.leases, k.waiting, k.applier],
      [String(Date.now()), String(Math.max(0, Math.ceil(options.leaseMs))), token, GROUP, CONSUMER, String(options.max), options.applier]);
    const leases: Lease[] = [];
    for (let i = 0; i + 3 < flat.length; i += 4) {
      leases.push({
        queue, item: { id: String(flat[i]), payload: parsePayload(String(flat[i + 1]), queue) },
        token: `${token}:${leases.length + 1}`, attempt: Number(flat[i + 2]), leaseUntil: Number(flat[i + 3]),
      });
    }
    return leases;
  }

  /** The leases that are still their item's current one. */
  async held(leases: readonly Lease[]): Promise<Lease[]> {
    const states = await Promise.all(leases.map((l) => this.conn.hGet(this.keys.queue(l.queue).state, l.item.id)));
    return leases.filter((l, i) => states[i]?.split('|')[1] === l.token);
  }

  /** @param lease - a lease from claim; throws PSL_LEASE_LOST when it is no longer current */
  async complete(lease: Lease): Promise<void> {
    const k = this.keys.queue(lease.queue);
    const done = await QUEUE_COMPLETE.run<number>(this.conn, [k.stream, k.payload, k.state, k.leases],
      [lease.item.id, lease.token, GROUP]);
    if (done !== 1) throw leaseLost(lease);
  }

  /**
   * @param lease - current lease
   * @param retryAt - epoch ms when the item is ready again
   */
  async fail(lease: Lease, retryAt: number): Promise<void> {
    const k = this.keys.queue(lease.queue);
    const done = await QUEUE_FAIL.run<number>(this.conn, [k.stream, k.state, k.delayed, k.leases, k.waiting],
      [lease.item.id, lease.token, String(Math.floor(retryAt)), GROUP]);
    if (done !== 1) throw leaseLost(lease);
  }

  /**
   * @param lease - current lease
   * @param reason - a code, never content
   */
  async deadLetter(lease: Lease, reason: string): Promise<void> {
    const k = this.keys.queue(lease.queue);
    const done = await QUEUE_DEAD.run<number>(this.conn, [k.stream, k.payload, k.state, k.leases, k.dead],
      [lease.item.id, lease.token, reason, String(Date.now()), GROUP]);
    if (done !== 1) throw leaseLost(lease);
  }

  /** @param queue - queue name */
  async stats(queue: string): Promise<QueueStats> {
    const k = this.keys.queue(queue);
    const [depth, inFlight, dead, oldest] = await QUEUE_STATS.run<[number, number, number, number]>(
      this.conn, [k.waiting, k.leases, k.dead], []);
    return { depth, inFlight, dead, oldestAgeMs: oldest < 0 ? 0 : Math.max(0, Date.now() - oldest) };
  }

  /** @param queue - queue name; dead letters come back oldest first */
  async deadLetters(queue: string): Promise<DeadLetter[]> {
    const entries = await this.conn.xRange(this.keys.queue(queue).dead, '-', '+');
    return (entries ?? []).map(({ message }) => ({
      item: { id: String(message.i), payload: parsePayload(String(message.p), queue) },
      reason: String(message.r),
      attempt: Number(message.a),
    }));
  }
}

function leaseLost(lease: Lease): GatewayError {
  return new GatewayError('PSL_LEASE_LOST', `lease on ${lease.queue}/${lease.item.id} expired or was taken over`);
}

function parsePayload(json: string, queue: string): QueueItem['payload'] {
  try {
    return JSON.parse(json) as QueueItem['payload'];
  } catch (cause) {
    throw new GatewayError('PSL_STORE_CORRUPT', `queue ${queue} holds a payload that is not JSON`, { cause });
  }
}
