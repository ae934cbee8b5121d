import { GatewayError } from '../../protocol/errors.js';
import { newId, newRecordId } from '../core/ids.js';
import type { RecordTxn } from '../core/ports.js';
import type { CanonicalRecord, Identifier, IdentityConflict, PutRecordResult, RecordInput } from '../core/types.js';
import { decideMatch, identityDomainOf, matchKeysOf, matchLookup } from './record-match.js';
import { carryAccess, nextVersion, recordChanged } from './record-version.js';
import { parseIndexMember, type RedisKeys } from './redis-keys.js';

/**
 * What a batch has read from Redis so far: match-key sets (their members) and latest records
 * (null: no such record). Filled between runs of the batch's work (RedisStore.commitBatch).
 */
export class BatchSnapshot {
  readonly sets = new Map<string, readonly string[]>();
  readonly records = new Map<string, CanonicalRecord | null>();
}

/** One record version to write, with the index sets it leaves and joins. */
export interface RecordWrite {
  record: CanonicalRecord;
  previous: CanonicalRecord | undefined;
  /** Match-key sets the new version claims (each held no other record when read). */
  claims: string[];
}

/**
 * The RecordTxn RedisStore hands to a batch's work: the same decisions as a single putRecord
 * (record-match.ts, record-version.ts), made against a snapshot plus the batch's own earlier
 * writes. A set or record the snapshot lacks is noted in `missing` and the run is only a
 * discovery run: its results are thrown away, the store reads what was missing and runs the work
 * again. A complete run's writes and read set go to one script, which re-checks the read set.
 */
export class RedisBatch implements RecordTxn {
  readonly writes: RecordWrite[] = [];
  readonly conflicts: IdentityConflict[] = [];
  readonly missing = { sets: new Set<string>(), records: new Set<string>() };
  /** Read set: record id → version the decision was based on (0: did not exist). */
  readonly readRecords = new Map<string, number>();
  /** Read set: match-key set → its members when read. */
  readonly readSets = new Map<string, readonly string[]>();
  readonly #added = new Map<string, Set<string>>();
  readonly #removed = new Map<string, Set<string>>();
  readonly #written = new Map<string, CanonicalRecord>();

  /**
   * @param snapshot - what has been read so far
   * @param keys - key layout (match-key set names)
   */
  constructor(private readonly snapshot: BatchSnapshot, private readonly keys: RedisKeys) {}

  /** Whether this run saw everything it needed (else it is a discovery run). */
  get complete(): boolean {
    return this.missing.sets.size === 0 && this.missing.records.size === 0;
  }

  putRecord(input: RecordInput, options: { notOnto?: ReadonlySet<string> } = {}): PutRecordResult {
    const sets = this.matchSets(input, matchKeysOf(input));
    const members = sets.map((k) => this.#members(k));
    if (members.some((m) => m === undefined)) return this.#placeholder();
    const known = members as string[][];
    const free = (own: string | undefined): string[] => sets.filter((_, i) => known[i]!.every((m) => own !== undefined && parseIndexMember(m).id === own));
    let id: string;
    let latest: CanonicalRecord | undefined;
    let conflict: { existingIds: string[]; reason: IdentityConflict['reason'] } | undefined;
    if (input.id !== undefined) {
      const found = this.#latest(input.id);
      if (found === undefined) return this.#placeholder();
      id = input.id;
      latest = found ?? undefined;
      if (latest !== undefined && input.ifVersion !== undefined && latest.version !== input.ifVersion) return { status: 'unchanged', id, version: latest.version, stale: true };
    } else {
      const ids = [...new Set(known.flat().map((m) => parseIndexMember(m).id))].sort();
      const found = ids.map((c) => this.#latest(c));
      if (found.some((r) => r === undefined)) return this.#placeholder();
      const candidates = found.filter((r): r is CanonicalRecord => r !== null);
      const decision = decideMatch(input, candidates.map((r) => ({ id: r.id, ...(r.patientId === undefined ? {} : { patientId: r.patientId }) })), options.notOnto);
      if (input.onMatch === 'keep' && decision.kind !== 'create') {
        const kept = decision.kind === 'update' ? decision.id : [...decision.existingIds].sort()[0]!;
        return { status: 'unchanged', id: kept, version: candidates.find((r) => r.id === kept)?.version ?? 1 };
      }
      if (decision.kind === 'update') {
        id = decision.id;
        latest = candidates.find((r) => r.id === decision.id);
      } else {
        id = newRecordId();
        if (decision.kind === 'conflict') conflict = { existingIds: decision.existingIds, reason: decision.reason };
      }
    }
    if (latest !== undefined && latest.resourceType !== input.resourceType) {
      throw new GatewayError('PSL_BAD_REQUEST', `record ${id} is a ${latest.resourceType}, not a ${input.resourceType}`);
    }
    const applied = latest ? carryAccess(input, latest) : input;
    if (latest && !recordChanged(latest, applied)) return { status: 'unchanged', id, version: latest.version };
    const record = nextVersion(applied, id, (latest?.version ?? 0) + 1);
    this.#write({ record, previous: latest, claims: free(latest === undefined ? undefined : id) });
    if (conflict === undefined) return { status: latest ? 'updated' : 'created', id, version: record.version };
    const opened: IdentityConflict = {
      id: newId('idc'), resourceType: input.resourceType, reason: conflict.reason, recordId: id, existingIds: conflict.existingIds,
      rawId: input.provenance.rawId, participant: input.provenance.participant, openedAt: new Date().toISOString(), status: 'open',
    };
    this.conflicts.push(opened);
    return { status: 'created', id, version: 1, conflict: { id: opened.id, existingIds: opened.existingIds, reason: opened.reason } };
  }

  /** The match-key sets of a record or input, in its identity domain. */
  matchSets(r: Pick<RecordInput, 'resourceType' | 'identityDomain' | 'provenance'>, keys: readonly Identifier[]): string[] {
    const domain = identityDomainOf(r);
    return [...new Set(keys.map((k) => this.keys.byMatch(matchLookup(domain, r.resourceType, k))))];
  }

  /** A discovery run's stand-in result: never committed. */
  #placeholder(): PutRecordResult {
    return { status: 'created', id: newRecordId(), version: 1 };
  }

  /** Members of a match-key set as this batch sees it; undefined when not read yet. */
  #members(key: string): string[] | undefined {
    const base = this.snapshot.sets.get(key);
    if (base === undefined) {
      this.missing.sets.add(key);
      return undefined;
    }
    if (!this.readSets.has(key)) this.readSets.set(key, base);
    const removed = this.#removed.get(key);
    const out = base.filter((m) => removed?.has(m) !== true);
    for (const m of this.#added.get(key) ?? []) if (!out.includes(m)) out.push(m);
    return out;
  }

  /** Latest record as this batch sees it: null when none, undefined when not read yet. */
  #latest(id: string): CanonicalRecord | null | undefined {
    const own = this.#written.get(id);
    if (own !== undefined) return own;
    const base = this.snapshot.records.get(id);
    if (base === undefined) {
      this.missing.records.add(id);
      return undefined;
    }
    if (!this.readRecords.has(id)) this.readRecords.set(id, base?.version ?? 0);
    return base;
  }

  #write(write: RecordWrite): void {
    const { record, previous } = write;
    const member = `${record.resourceType}|${record.id}`;
    if (previous !== undefined) {
      const old = `${previous.resourceType}|${record.id}`;
      for (const k of this.matchSets(previous, previous.matchKeys ?? [])) {
        this.#added.get(k)?.delete(old);
        (this.#removed.get(k) ?? this.#removed.set(k, new Set()).get(k)!).add(old);
      }
    }
    for (const k of write.claims) {
      this.#removed.get(k)?.delete(member);
      (this.#added.get(k) ?? this.#added.set(k, new Set()).get(k)!).add(member);
    }
    this.#written.set(record.id, record);
    this.writes.push(write);
  }
}
