import { randomUUID } from 'node:crypto';
import type { Lease, QueueItem, QueueStats } from '../core/types.js';
import { GatewayError } from '../../protocol/errors.js';
import { HIGH, type DueMark, type LmdbDbs, type QueueEntry } from './lmdb-schema.js';

type QueueKey = Array<string | number>;

/** Who applies a queue's items in batches, until when (Store.claimBatch). */
interface ApplierLease {
  applier: string;
  until: number;
}

/**
 * Delivery queues in LMDB. One due key per live item, ordered by the time it is due: a `d` key at
 * enqueue time (or availableAt) while waiting, retryAt after a failure; an `l` key at the lease end
 * while claimed. Claiming takes an expired lease first (its item is older than anything enqueued
 * during the lease, so arrival order survives a crash), else the first `d` key due by now.
 * Every operation runs in one lmdb-js transaction callback: lease checks and moves are atomic,
 * and concurrent claims are serialised inside the write transaction, so one item is never handed
 * out twice.
 */
export class LmdbQueues {
  readonly #dbs: LmdbDbs;

  /** @param dbs - the opened environment (openLmdb) */
  constructor(dbs: LmdbDbs) {
    this.#dbs = dbs;
  }

  get #db(): LmdbDbs['queue'] {
    return this.#dbs.queue;
  }

  /** See Store.enqueue. */
  enqueue(queue: string, item: QueueItem, options: { availableAt?: number } = {}): Promise<void> {
    return this.#dbs.env.transaction(() => this.enqueueWithin(queue, item, options));
  }

  /** Enqueue as part of a write transaction the caller already runs (putRaw's, for one commit). */
  enqueueWithin(queue: string, item: QueueItem, options: { availableAt?: number } = {}): void {
    const now = Date.now();
    const existing = this.#entry(queue, item.id);
    if (existing && existing.state !== 'dead') return;
    if (existing?.deadSeq !== undefined) this.#db.remove(['x', queue, existing.deadSeq, item.id]);
    const entry: QueueEntry = {
      item: { id: item.id, payload: { ...item.payload } },
      attempt: 0,
      enqueuedAt: now,
      dueAt: options.availableAt ?? now,
      seq: this.#nextSeq(),
      state: 'waiting',
    };
    this.#putLive(queue, entry);
  }

  /** See Store.claim. */
  claim(queue: string, leaseMs: number): Promise<Lease | undefined> {
    return this.#dbs.env.transaction(() => this.#claimOne(queue, leaseMs, Date.now()));
  }

  /** See Store.claimBatch. */
  claimBatch(queue: string, options: { max: number; leaseMs: number; applier: string }): Promise<Lease[]> {
    return this.#dbs.env.transaction(() => {
      const now = Date.now();
      const holder = this.#db.get(['a', queue]) as ApplierLease | undefined;
      if (holder !== undefined && holder.applier !== options.applier && holder.until > now) return [];
      // Renewed only once half of it is spent (or to release it): an idle worker's claims every
      // few hundred ms then write nothing, so they cost no commit and no fsync.
      const fresh = holder?.applier === options.applier && options.leaseMs > 0 && holder.until - now > options.leaseMs / 2;
      if (!fresh) this.#db.put(['a', queue], { applier: options.applier, until: now + options.leaseMs });
      const leases: Lease[] = [];
      while (leases.length < options.max) {
        const lease = this.#claimOne(queue, options.leaseMs, now);
        if (lease === undefined) break;
        leases.push(lease);
      }
      return leases;
    });
  }

  #claimOne(queue: string, leaseMs: number, now: number): Lease | undefined {
    const due = this.#firstDue(queue, now);
    if (due === undefined) return undefined;
    const entry = this.#entry(queue, due);
    if (entry === undefined || entry.state === 'dead') {
      throw new GatewayError('PSL_STORE_CORRUPT', `queue ${queue} index points at a missing item`);
    }
    this.#removeDue(queue, entry);
    const token = randomUUID();
    const leased: QueueEntry = { ...entry, attempt: entry.attempt + 1, dueAt: now + leaseMs, state: 'leased', token };
    this.#putLive(queue, leased);
    return { queue, item: leased.item, token, attempt: leased.attempt, leaseUntil: leased.dueAt };
  }

  /** See Store.complete. */
  complete(lease: Lease): Promise<void> {
    return this.#dbs.env.transaction(() => this.completeWithin(lease));
  }

  /** complete() inside a write transaction the caller already runs (Store.commitBatch). */
  completeWithin(lease: Lease): void {
    const entry = this.#owned(lease);
    this.#removeDue(lease.queue, entry);
    this.#db.remove(['i', lease.queue, entry.item.id]);
  }

  /** Whether the lease is still the item's current one (read inside the caller's transaction). */
  holds(lease: Lease): boolean {
    const entry = this.#entry(lease.queue, lease.item.id);
    return entry?.state === 'leased' && entry.token === lease.token;
  }

  /** See Store.fail. The reason is not kept: the caller logs it with the item id. */
  fail(lease: Lease, options: { retryAt: number; reason: string }): Promise<void> {
    return this.#dbs.env.transaction(() => {
      const entry = this.#owned(lease);
      this.#removeDue(lease.queue, entry);
      const { token: _spent, ...rest } = entry;
      this.#putLive(lease.queue, { ...rest, state: 'waiting', dueAt: options.retryAt });
    });
  }

  /** See Store.deadLetter. */
  deadLetter(lease: Lease, reason: string): Promise<void> {
    return this.#dbs.env.transaction(() => {
      const entry = this.#owned(lease);
      this.#removeDue(lease.queue, entry);
      const { token: _spent, ...rest } = entry;
      const deadSeq = this.#nextSeq();
      this.#db.put(['i', lease.queue, entry.item.id], { ...rest, state: 'dead', reason, deadSeq });
      this.#db.put(['x', lease.queue, deadSeq, entry.item.id], true);
    });
  }

  /**
   * See Store.queueStats. Scans the queue's `d` keys (values are two small fields), so the cost
   * grows with queue depth; fine for /admin and metrics scrapes, not for a per-message path.
   */
  stats(queue: string): QueueStats {
    const now = Date.now();
    let depth = 0;
    let inFlight = 0;
    let oldest = Infinity;
    const marks = [
      ...this.#db.getRange({ start: ['d', queue], end: ['d', queue, HIGH] }),
      ...this.#db.getRange({ start: ['l', queue], end: ['l', queue, HIGH] }),
    ];
    for (const { key, value } of marks) {
      const mark = value as DueMark;
      if (mark.leased && Number(key[2]) > now) {
        inFlight++;
      } else {
        depth++;
        oldest = Math.min(oldest, mark.enqueuedAt);
      }
    }
    const dead = this.#db.getKeysCount({ start: ['x', queue], end: ['x', queue, HIGH] });
    return { depth, inFlight, dead, oldestAgeMs: depth === 0 ? 0 : Math.max(0, now - oldest) };
  }

  /** See Store.deadLetters: in the order they died. */
  deadLetters(queue: string): Array<{ item: QueueItem; reason: string; attempt: number }> {
    const out: Array<{ item: QueueItem; reason: string; attempt: number }> = [];
    for (const key of this.#db.getKeys({ start: ['x', queue], end: ['x', queue, HIGH] })) {
      const entry = this.#entry(queue, String(key[3]));
      if (entry?.state === 'dead') out.push({ item: entry.item, reason: entry.reason ?? '', attempt: entry.attempt });
    }
    return out;
  }

  #entry(queue: string, itemId: string): QueueEntry | undefined {
    return this.#db.get(['i', queue, itemId]) as QueueEntry | undefined;
  }

  /** The entry behind a lease, or PSL_LEASE_LOST when it was completed, dead-lettered or re-claimed. */
  #owned(lease: Lease): QueueEntry {
    const entry = this.#entry(lease.queue, lease.item.id);
    if (entry?.state !== 'leased' || entry.token !== lease.token) {
      throw new GatewayError('PSL_LEASE_LOST', `lease on ${lease.queue}/${lease.item.id} is no longer held`);
    }
    return entry;
  }

  #firstDue(queue: string, now: number): string | undefined {
    for (const space of ['l', 'd']) {
      for (const key of this.#db.getKeys({ start: [space, queue], end: [space, queue, now, HIGH], limit: 1 })) {
        return String(key[4]);
      }
    }
    return undefined;
  }

  #dueKey(queue: string, entry: QueueEntry): QueueKey {
    return [entry.state === 'leased' ? 'l' : 'd', queue, entry.dueAt, entry.seq, entry.item.id];
  }

  /** Removes the item's due key; a lease written before leases had their own `l` keys sat under `d`. */
  #removeDue(queue: string, entry: QueueEntry): void {
    this.#db.remove(this.#dueKey(queue, entry));
    if (entry.state === 'leased') this.#db.remove(['d', queue, entry.dueAt, entry.seq, entry.item.id]);
  }

  #putLive(queue: string, entry: QueueEntry): void {
    this.#db.put(['i', queue, entry.item.id], entry);
    const mark: DueMark = { leased: entry.state === 'leased', enqueuedAt: entry.enqueuedAt };
    this.#db.put(this.#dueKey(queue, entry), mark);
  }

  /** Queue sequence: breaks ties between items due in the same millisecond, and orders dead letters. */
  #nextSeq(): number {
    const seq = ((this.#db.get(['seq']) as number | undefined) ?? 0) + 1;
    this.#db.put(['seq'], seq);
    return seq;
  }
}
