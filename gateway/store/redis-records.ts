import { GatewayError } from '../../protocol/errors.js';
import type { RecordTxn } from '../core/ports.js';
import type { CanonicalRecord, Identifier, IdentityConflict, Lease, PutRecordResult, RecordInput } from '../core/types.js';
import type { AtRestCipher } from './at-rest.js';
import { AS_BUFFERS, type RedisConn } from './redis-conn.js';
import { parseIndexMember, type RedisKeys } from './redis-keys.js';
import { RECORD_LATEST } from './redis-scripts.js';
import { BatchSnapshot, RedisBatch } from './redis-batch.js';
import { commitBatchWrites } from './redis-batch-commit.js';
import type { RedisQueues } from './redis-queue.js';

/**
 * Runs of a batch's work before commitBatch gives up: discovery runs (usually two, reading match
 * sets, then the records they name) plus one per lost compare-and-set, which means another writer
 * changed what the batch read. So this bounds contention, not normal operation.
 */
const MAX_ROUNDS = 32;

/**
 * Versioned canonical records. Every version is sealed with AtRestCipher under `rec:<id>:<version>`;
 * the indexes hold hashed identifiers and record ids only. Decisions that need the decrypted record
 * (match, change detection, next version) are made in Node against what was read (RedisBatch), and
 * one script (redis-batch-commit.ts) re-checks atomically that none of it moved, otherwise the
 * round is retried. A single putRecord is a batch of one.
 */
export class RedisRecords {
  /**
   * @param conn - open connection
   * @param keys - key layout under the store's prefix
   * @param cipher - at-rest cipher for record contents
   * @param queues - to tell which leases are still held when a batch finds one lost
   */
  constructor(private readonly conn: RedisConn, private readonly keys: RedisKeys, private readonly cipher: AtRestCipher, private readonly queues: RedisQueues) {}

  /** @param input - what a normalizer or the API hands over; see Store.putRecord */
  async put(input: RecordInput): Promise<PutRecordResult> {
    return (await this.commitBatch([], (txn) => txn.putRecord(input))).result;
  }

  /** See Store.commitBatch. */
  async commitBatch<T>(leases: readonly Lease[], work: (txn: RecordTxn, held: readonly Lease[]) => T): Promise<{ result: T; lost: Lease[] }> {
    const snapshot = new BatchSnapshot();
    let held = [...leases];
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const batch = new RedisBatch(snapshot, this.keys);
      let result: T;
      try {
        result = work(batch, held);
      } catch (err) {
        // A discovery run decides on stand-ins, so its errors mean nothing until the reads are done.
        if (batch.complete) throw err;
        await this.#read(snapshot, batch);
        continue;
      }
      if (!batch.complete) {
        await this.#read(snapshot, batch);
        continue;
      }
      const reply = await commitBatchWrites(this.conn, this.keys, this.cipher, batch, held);
      if (reply === 'committed') return { result, lost: leases.filter((l) => !held.includes(l)) };
      if (reply === 'lease-lost') held = await this.queues.held(held);
      snapshot.sets.clear();
      snapshot.records.clear();
    }
    throw new GatewayError('PSL_STORE_UNAVAILABLE', `batch commit kept conflicting after ${MAX_ROUNDS} rounds`);
  }

  /** Reads what a discovery run was missing into the snapshot (commands are pipelined). */
  async #read(snapshot: BatchSnapshot, batch: RedisBatch): Promise<void> {
    const sets = [...batch.missing.sets];
    const ids = [...batch.missing.records];
    const [members, records] = await Promise.all([
      Promise.all(sets.map((k) => this.conn.sMembers(k))),
      Promise.all(ids.map((id) => this.latest(id))),
    ]);
    sets.forEach((k, i) => snapshot.sets.set(k, members[i]!));
    ids.forEach((id, i) => snapshot.records.set(id, records[i] ?? null));
  }

  /**
   * @param id - record id
   * @param version - a given version; latest when omitted
   */
  async get(id: string, version?: number): Promise<CanonicalRecord | undefined> {
    if (version === undefined) return this.latest(id);
    const sealed = await this.conn.withTypeMapping(AS_BUFFERS).hGet(this.keys.recordVersions(id), String(version));
    return sealed ? this.cipher.openJson<CanonicalRecord>(sealed, slot(id, version)) : undefined;
  }

  /**
   * @param identifier - system and value; looked up by hash
   * @param resourceType - restricts to one type
   */
  async findByIdentifier(identifier: Identifier, resourceType?: string): Promise<CanonicalRecord[]> {
    return this.fromIndexSet(this.keys.byIdentifier(identifier), resourceType);
  }

  /**
   * @param patientId - canonical Patient record id
   * @param resourceType - restricts to one type
   */
  async findByPatient(patientId: string, resourceType?: string): Promise<CanonicalRecord[]> {
    return this.fromIndexSet(this.keys.byPatient(patientId), resourceType);
  }

  /**
   * @param resourceType - FHIR type
   * @param options - since (ISO, inclusive) and limit; oldest lastUpdated first
   */
  async findByType(resourceType: string, options: { since?: string; limit?: number } = {}): Promise<CanonicalRecord[]> {
    const since = options.since === undefined ? '-inf' : Date.parse(options.since);
    if (typeof since === 'number' && Number.isNaN(since)) throw new GatewayError('PSL_BAD_REQUEST', 'since is not an ISO date-time');
    const limit = options.limit === undefined ? undefined : { LIMIT: { offset: 0, count: Math.max(0, options.limit) } };
    if (limit?.LIMIT.count === 0) return [];
    const ids = await this.conn.zRangeByScore(this.keys.byType(resourceType), since, '+inf', limit);
    return this.latestOf(ids);
  }

  /** Identity conflicts, oldest first (ids are time-ordered). */
  async conflicts(status?: IdentityConflict['status']): Promise<IdentityConflict[]> {
    const all = Object.values(await this.conn.hGetAll(this.keys.identityConflicts())).map((j) => JSON.parse(j) as IdentityConflict);
    return all.filter((c) => status === undefined || c.status === status).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Records an admin's decision. */
  async resolveConflict(id: string, resolution: { status: 'linked' | 'kept-separate'; by: string }): Promise<IdentityConflict | undefined> {
    const json = await this.conn.hGet(this.keys.identityConflicts(), id);
    if (json === null || json === undefined) return undefined;
    const resolved: IdentityConflict = { ...(JSON.parse(json) as IdentityConflict), status: resolution.status, resolvedBy: resolution.by, resolvedAt: new Date().toISOString() };
    await this.conn.hSet(this.keys.identityConflicts(), id, JSON.stringify(resolved));
    return resolved;
  }

  private async fromIndexSet(key: string, resourceType?: string): Promise<CanonicalRecord[]> {
    const ids = (await this.conn.sMembers(key)).map(parseIndexMember)
      .filter((m) => resourceType === undefined || m.resourceType === resourceType)
      .map((m) => m.id).sort();
    return this.latestOf(ids);
  }

  private async latestOf(ids: readonly string[]): Promise<CanonicalRecord[]> {
    const records = await Promise.all(ids.map((id) => this.latest(id)));
    return records.filter((r): r is CanonicalRecord => r !== undefined);
  }

  private async latest(id: string): Promise<CanonicalRecord | undefined> {
    const reply = await RECORD_LATEST.run<[number, Buffer] | null>(this.conn,
      [this.keys.record(id), this.keys.recordVersions(id)], [], { binary: true });
    if (!reply) return undefined;
    const [version, sealed] = reply;
    return this.cipher.openJson<CanonicalRecord>(sealed, slot(id, version));
  }
}

/** AAD slot of one record version: a sealed version copied to another id or version fails to open. */
function slot(id: string, version: number): string {
  return `rec:${id}:${version}`;
}
