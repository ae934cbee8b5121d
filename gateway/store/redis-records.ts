import { GatewayError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { CanonicalRecord, Identifier, IdentityConflict, PutRecordResult, RecordInput } from '../core/types.js';
import { decideMatch, identityDomainOf, matchKeysOf, matchLookup } from './record-match.js';
import type { AtRestCipher } from './at-rest.js';
import { AS_BUFFERS, toArg, type RedisConn } from './redis-conn.js';
import { indexMember, parseIndexMember, type RedisKeys } from './redis-keys.js';
import { RECORD_LATEST, RECORD_PUT } from './redis-scripts.js';
import { carryAccess, nextVersion, recordChanged } from './record-version.js';

/**
 * Compare-and-set rounds before putRecord gives up. Each lost round means another writer changed
 * the same record in between, so this bounds contention, not normal operation.
 */
const MAX_ROUNDS = 32;

/** What a write is based on: the record (if any), the match-key sets it claims, a conflict to open. */
type Target = {
  id: string; latest: CanonicalRecord | undefined; claims: string[];
  conflict?: { existingIds: string[]; reason: IdentityConflict['reason'] };
};

/**
 * Versioned canonical records. Every version is sealed with AtRestCipher under `rec:<id>:<version>`;
 * the indexes hold hashed identifiers and record ids only. Decisions that need the decrypted record
 * (match, change detection, next version) are made here, and RECORD_PUT re-checks atomically that
 * nothing moved underneath, otherwise the round is retried.
 */
export class RedisRecords {
  /**
   * @param conn - open connection
   * @param keys - key layout under the store's prefix
   * @param cipher - at-rest cipher for record contents
   */
  constructor(private readonly conn: RedisConn, private readonly keys: RedisKeys, private readonly cipher: AtRestCipher) {}

  /** @param input - what a normalizer or the API hands over; see Store.putRecord */
  async put(input: RecordInput): Promise<PutRecordResult> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const target = await this.resolve(input);
      const { id, latest } = target;
      const applied = latest ? carryAccess(input, latest) : input;
      if (latest && !recordChanged(latest, applied)) return { status: 'unchanged', id, version: latest.version };
      const version = (latest?.version ?? 0) + 1;
      const record = nextVersion(applied, id, version);
      if (!(await this.write(target, record))) continue;
      if (target.conflict === undefined) return { status: latest ? 'updated' : 'created', id, version };
      const conflict = await this.openConflict(input, id, target.conflict.existingIds, target.conflict.reason);
      return { status: 'created', id, version, conflict: { id: conflict.id, existingIds: conflict.existingIds, reason: conflict.reason } };
    }
    throw new GatewayError('PSL_STORE_UNAVAILABLE', `record write kept conflicting after ${MAX_ROUNDS} rounds`);
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

  /** Written after the record: a crash in between re-runs the message, which opens it then. */
  private async openConflict(input: RecordInput, recordId: string, existingIds: string[], reason: IdentityConflict['reason']): Promise<IdentityConflict> {
    const conflict: IdentityConflict = {
      id: newId('idc'), resourceType: input.resourceType, reason, recordId, existingIds,
      rawId: input.provenance.rawId, participant: input.provenance.participant, openedAt: new Date().toISOString(), status: 'open',
    };
    await this.conn.hSet(this.keys.identityConflicts(), conflict.id, JSON.stringify(conflict));
    return conflict;
  }

  private matchSets(r: Pick<RecordInput, 'resourceType' | 'identityDomain' | 'provenance'> & { matchKeys?: readonly Identifier[] | undefined }, keys: readonly Identifier[]): string[] {
    const domain = identityDomainOf(r);
    return [...new Set(keys.map((k) => this.keys.byMatch(matchLookup(domain, r.resourceType, k))))];
  }

  private async resolve(input: RecordInput): Promise<Target> {
    const sets = this.matchSets(input, matchKeysOf(input));
    const members = await Promise.all(sets.map((k) => this.conn.sMembers(k)));
    const free = (own: string | undefined): string[] => sets.filter((_, i) => members[i]!.every((m) => own !== undefined && parseIndexMember(m).id === own));
    if (input.id !== undefined) return { id: input.id, latest: await this.latest(input.id), claims: free(input.id) };
    const ids = [...new Set(members.flat().map((m) => parseIndexMember(m).id))].sort();
    const found = (await Promise.all(ids.map((id) => this.latest(id)))).filter((r): r is CanonicalRecord => r !== undefined);
    const decision = decideMatch(input, found.map((r) => ({ id: r.id, ...(r.patientId === undefined ? {} : { patientId: r.patientId }) })));
    if (decision.kind === 'update') return { id: decision.id, latest: found.find((r) => r.id === decision.id), claims: free(decision.id) };
    const id = newId('rec');
    return { id, latest: undefined, claims: free(undefined), ...(decision.kind === 'conflict' ? { conflict: { existingIds: decision.existingIds, reason: decision.reason } } : {}) };
  }

  private async write(target: Target, record: CanonicalRecord): Promise<boolean> {
    const { latest } = target;
    const oldSets = latest ? [...this.matchSets(latest, latest.matchKeys ?? []), ...this.indexSets(latest)] : [];
    const newIdentSets = [...target.claims, ...record.identifiers.map((i) => this.keys.byIdentifier(i))];
    const newPatient = record.patientId === undefined ? [] : [this.keys.byPatient(record.patientId)];
    const typeKey = this.keys.byType(record.resourceType);
    const keys = [
      this.keys.record(record.id), this.keys.recordVersions(record.id),
      latest ? this.keys.byType(latest.resourceType) : typeKey, typeKey,
      ...oldSets, ...newIdentSets, ...newPatient,
    ];
    const sealed = this.cipher.sealJson(record, slot(record.id, record.version));
    const result = await RECORD_PUT.run<number>(this.conn, keys, [
      String(latest?.version ?? 0), String(record.version), toArg(sealed),
      latest ? indexMember(latest.resourceType, record.id) : '', indexMember(record.resourceType, record.id),
      record.resourceType, String(Date.parse(record.lastUpdated)), record.id,
      String(oldSets.length), String(newIdentSets.length), newPatient.length > 0 ? '1' : '0',
      target.claims.length > 0 ? '1' : '0', String(target.claims.length),
    ]);
    return result === record.version;
  }

  private indexSets(record: CanonicalRecord): string[] {
    const sets = record.identifiers.map((i) => this.keys.byIdentifier(i));
    if (record.patientId !== undefined) sets.push(this.keys.byPatient(record.patientId));
    return sets;
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
