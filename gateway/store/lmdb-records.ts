import type { CanonicalRecord, Identifier, IdentityConflict, PutRecordResult, RecordInput } from '../core/types.js';
import { decideMatch, identityDomainOf, matchKeysOf, matchLookup, type MatchCandidate, type MatchDecision } from './record-match.js';
import { GatewayError } from '../../protocol/errors.js';
import { newId, newRecordId } from '../core/ids.js';
import type { AtRestCipher } from './at-rest.js';
import { carryAccess, nextVersion, recordChanged } from './record-version.js';
import { HIGH, identifierHash, type LmdbDbs, type RecordHead } from './lmdb-schema.js';
import { directTables, type RecordTables } from './lmdb-plan.js';

const slot = (id: string, version: number): string => `rec:${id}:${version}`;

/**
 * Canonical records in LMDB: versions sealed under `rec:<id>:<version>`, a clear-text head per
 * record (latest version, type, time, identifier hashes) and index keys that point at record ids.
 * Every write runs inside one lmdb-js transaction callback, so matching an existing record and
 * writing the new version are atomic with respect to any other store write.
 */
export class LmdbRecords {
  readonly #dbs: LmdbDbs;
  readonly #cipher: AtRestCipher;
  readonly #direct: RecordTables;

  /**
   * @param dbs - the opened environment (openLmdb)
   * @param cipher - seals record contents at rest
   */
  constructor(dbs: LmdbDbs, cipher: AtRestCipher) {
    this.#dbs = dbs;
    this.#cipher = cipher;
    this.#direct = directTables(dbs);
  }

  /** See Store.putRecord. Resolves once the new version (if any) is committed and synced. */
  put(input: RecordInput): Promise<PutRecordResult> {
    return this.#dbs.env.transaction(() => this.putWithin(input));
  }

  /**
   * putRecord inside a write transaction the caller already runs (Store.commitBatch), so several
   * records, outcomes and lease completions commit together; see RecordTxn for `notOnto`.
   * @param tables - where it reads and writes: the environment (default), or a plan (LmdbPlan)
   *   made outside the transaction
   */
  putWithin(input: RecordInput, options: { notOnto?: ReadonlySet<string> } = {}, tables: RecordTables = this.#direct): PutRecordResult {
    const identHashes = input.identifiers.map((i) => identifierHash(i, (v) => this.#cipher.lookupHash(v)));
    const domain = identityDomainOf(input);
    const matchHashes = [...new Set(matchKeysOf(input).map((k) => this.#cipher.lookupHash(matchLookup(domain, input.resourceType, k))))];
    const decision: MatchDecision = input.id !== undefined
      ? { kind: 'update', id: input.id }
      : decideMatch(input, this.#candidates(tables, matchHashes), options.notOnto);
    if (input.onMatch === 'keep' && decision.kind !== 'create') {
      const keptId = decision.kind === 'update' ? decision.id : [...decision.existingIds].sort()[0]!;
      return { status: 'unchanged', id: keptId, version: tables.head(keptId)?.version ?? 1 };
    }
    const id = decision.kind === 'update' ? decision.id : undefined;
    const head = id === undefined ? undefined : tables.head(id);
    if (input.id !== undefined && head === undefined) {
      throw new GatewayError('PSL_NOT_FOUND', `record ${input.id} does not exist`);
    }
    if (id === undefined || head === undefined) {
      const created = nextVersion(input, newRecordId(), 1);
      this.#write(tables, created, undefined, identHashes, matchHashes);
      if (decision.kind !== 'conflict') return { status: 'created', id: created.id, version: 1 };
      const conflict = this.#openConflict(tables, input, created.id, decision.existingIds, decision.reason);
      return { status: 'created', id: created.id, version: 1, conflict: { id: conflict.id, existingIds: conflict.existingIds, reason: conflict.reason } };
    }
    if (head.resourceType !== input.resourceType) {
      throw new GatewayError('PSL_BAD_REQUEST', `record ${id} is a ${head.resourceType}, not a ${input.resourceType}`);
    }
    if (input.ifVersion !== undefined && head.version !== input.ifVersion) return { status: 'unchanged', id, version: head.version, stale: true };
    const latest = this.#open(id, head.version, tables);
    const applied = carryAccess(input, latest);
    if (!recordChanged(latest, applied)) return { status: 'unchanged', id, version: head.version };
    const next = nextVersion(applied, id, head.version + 1, this.#after(head.lastUpdated));
    this.#write(tables, next, head, identHashes, matchHashes);
    return { status: 'updated', id, version: next.version };
  }

  /** Distinct records claiming any of the match keys (each key is claimed by one record). */
  #candidates(tables: RecordTables, matchHashes: readonly string[]): MatchCandidate[] {
    const ids = new Set<string>();
    for (const h of matchHashes) {
      for (const key of tables.indexKeys(['m', h])) if (key[2] !== undefined) ids.add(key[2]);
    }
    return [...ids].map((id) => {
      const head = tables.head(id);
      return { id, ...(head?.patientId === undefined ? {} : { patientId: head.patientId }) };
    });
  }

  #openConflict(tables: RecordTables, input: RecordInput, recordId: string, existingIds: string[], reason: IdentityConflict['reason']): IdentityConflict {
    const conflict: IdentityConflict = {
      id: newId('idc'), resourceType: input.resourceType, reason, recordId, existingIds,
      rawId: input.provenance.rawId, participant: input.provenance.participant, openedAt: new Date().toISOString(), status: 'open',
    };
    tables.putConflict(conflict);
    return conflict;
  }

  /** See Store.identityConflicts: oldest first. */
  conflicts(status?: IdentityConflict['status']): IdentityConflict[] {
    return [...this.#dbs.conflict.getRange({})].map(({ value }) => value).filter((c) => status === undefined || c.status === status);
  }

  /** See Store.resolveIdentityConflict. */
  resolveConflict(id: string, resolution: { status: 'linked' | 'kept-separate'; by: string }): Promise<IdentityConflict | undefined> {
    return this.#dbs.env.transaction(() => {
      const c = this.#dbs.conflict.get(id);
      if (c === undefined) return undefined;
      const resolved: IdentityConflict = { ...c, status: resolution.status, resolvedBy: resolution.by, resolvedAt: new Date().toISOString() };
      this.#dbs.conflict.put(id, resolved);
      return resolved;
    });
  }

  /**
   * lastUpdated must move forward even if the wall clock steps back or two versions land in the
   * same millisecond, or findByType(since) would miss or misorder the update.
   */
  #after(previous: string): Date {
    const now = Date.now();
    const prev = Date.parse(previous);
    return new Date(now > prev ? now : prev + 1);
  }

  #write(tables: RecordTables, record: CanonicalRecord, old: RecordHead | undefined, identHashes: string[], matchHashes: string[]): void {
    const id = record.id;
    if (old) {
      for (const h of old.matchHashes ?? []) tables.removeIndex(['m', h, id]);
      for (const h of old.identHashes) tables.removeIndex(['i', h, old.resourceType, id]);
      if (old.patientId !== undefined) tables.removeIndex(['p', old.patientId, old.resourceType, id]);
      tables.removeIndex(['t', old.resourceType, old.lastUpdated, id]);
    }
    tables.putVersion(id, record.version, this.#cipher.sealJson(record, slot(id, record.version)));
    const unique = [...new Set(identHashes)];
    // A key already claimed by another record stays with it (a conflict never steals identity).
    const claimed = matchHashes.filter((h) => !tables.indexKeys(['m', h]).some((key) => key[2] !== id));
    for (const h of claimed) tables.putIndex(['m', h, id]);
    tables.putHead(id, {
      ...(claimed.length === 0 ? {} : { matchHashes: claimed }),
      version: record.version,
      resourceType: record.resourceType,
      lastUpdated: record.lastUpdated,
      ...(record.patientId === undefined ? {} : { patientId: record.patientId }),
      identHashes: unique,
    });
    for (const h of unique) tables.putIndex(['i', h, record.resourceType, id]);
    if (record.patientId !== undefined) tables.putIndex(['p', record.patientId, record.resourceType, id]);
    tables.putIndex(['t', record.resourceType, record.lastUpdated, id]);
  }

  #open(id: string, version: number, tables: RecordTables = this.#direct): CanonicalRecord {
    const sealed = tables.version(id, version);
    if (sealed === undefined) throw new GatewayError('PSL_STORE_CORRUPT', `record ${id} version ${version} is missing`);
    return this.#cipher.openJson<CanonicalRecord>(sealed, slot(id, version));
  }

  /** See Store.getRecord. */
  get(id: string, version?: number): CanonicalRecord | undefined {
    const head = this.#dbs.head.get(id);
    if (head === undefined) return undefined;
    const v = version ?? head.version;
    if (!Number.isInteger(v) || v < 1 || v > head.version) return undefined;
    return this.#open(id, v);
  }

  /** See Store.findByIdentifier. */
  findByIdentifier(identifier: Identifier, resourceType?: string): CanonicalRecord[] {
    const h = identifierHash(identifier, (v) => this.#cipher.lookupHash(v));
    return this.#latest(resourceType === undefined ? ['i', h] : ['i', h, resourceType], 3);
  }

  /** See Store.findByPatient. */
  findByPatient(patientId: string, resourceType?: string): CanonicalRecord[] {
    return this.#latest(resourceType === undefined ? ['p', patientId] : ['p', patientId, resourceType], 3);
  }

  /** See Store.findByType: oldest lastUpdated first, `since` inclusive. */
  findByType(resourceType: string, options: { since?: string; limit?: number } = {}): CanonicalRecord[] {
    if (options.limit !== undefined && options.limit <= 0) return [];
    const range = {
      start: ['t', resourceType, options.since === undefined ? '' : isoUtc(options.since)],
      end: ['t', resourceType, HIGH],
      ...(options.limit === undefined ? {} : { limit: options.limit }),
    };
    return this.#latest(range, 3);
  }

  /** Latest versions of the record ids found at `idPos` of the index keys under a prefix or in a range. */
  #latest(prefixOrRange: string[] | { start: string[]; end: string[]; limit?: number }, idPos: number): CanonicalRecord[] {
    const range = Array.isArray(prefixOrRange) ? { start: prefixOrRange, end: [...prefixOrRange, HIGH] } : prefixOrRange;
    const out: CanonicalRecord[] = [];
    for (const key of this.#dbs.idx.getKeys(range)) {
      const id = key[idPos];
      const record = id === undefined ? undefined : this.get(id);
      if (record) out.push(record);
    }
    return out;
  }
}

/** Index keys hold UTC ISO strings; `since` may carry an offset, so compare like with like. */
function isoUtc(since: string): string {
  const ms = Date.parse(since);
  if (Number.isNaN(ms)) throw new GatewayError('PSL_BAD_REQUEST', 'since is not an ISO date-time');
  return new Date(ms).toISOString();
}
