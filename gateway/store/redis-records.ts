import { GatewayError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { CanonicalRecord, Identifier, PutRecordResult, RecordInput } from '../core/types.js';
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

type Target = { id: string; latest: CanonicalRecord | undefined; claimsIdentifiers: boolean };

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
      if (await this.write(target, record)) return { status: latest ? 'updated' : 'created', id, version };
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

  private async resolve(input: RecordInput): Promise<Target> {
    if (input.id !== undefined) return { id: input.id, latest: await this.latest(input.id), claimsIdentifiers: false };
    const sets = await Promise.all(input.identifiers.map((i) => this.conn.sMembers(this.keys.byIdentifier(i))));
    // The first record of this type holding any of the identifiers: ids are time-ordered.
    const match = sets.flat().map(parseIndexMember).filter((m) => m.resourceType === input.resourceType)
      .map((m) => m.id).sort()[0];
    if (match !== undefined) {
      const latest = await this.latest(match);
      if (latest) return { id: match, latest, claimsIdentifiers: false };
    }
    return { id: newId('rec'), latest: undefined, claimsIdentifiers: input.identifiers.length > 0 };
  }

  private async write(target: Target, record: CanonicalRecord): Promise<boolean> {
    const { latest } = target;
    const oldSets = latest ? this.indexSets(latest) : [];
    const newIdentSets = record.identifiers.map((i) => this.keys.byIdentifier(i));
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
      target.claimsIdentifiers ? '1' : '0',
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
