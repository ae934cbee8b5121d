import type { NormalizedRecord, Store } from '../core/ports.js';
import type { Identifier, PutRecordResult, RawMessage, RecordInput } from '../core/types.js';
import type { Issue } from '../core/issues.js';
import { localReferencesIn, rewriteLocalReferences } from './reference-rewrite.js';
import type { RecordHeader } from '../router/router.js';

/**
 * Index identifier of a record that carries no business identifier: `<rawId>#<localRef>`. It makes
 * re-normalizing the same raw (after a crash, or when a mapping improves) land on the same record
 * instead of creating a twin. Kept in the record's index only, never in the FHIR resource.
 */
export const SOURCE_SYSTEM = 'urn:passerelle:source';

/** One stored record of a message. */
export interface WrittenRecord {
  localRef: string;
  resourceType: string;
  id: string;
  version: number;
  status: PutRecordResult['status'];
}

/** What writing a message's records produced. */
export interface WriteResult {
  records: WrittenRecord[];
  /** Problems found while linking records (never values, only locations and rules). */
  issues: Issue[];
}

/**
 * Stores a message's records. Each record's local references are rewritten to `Type/id` of the
 * record stored for that localRef EARLIER in the message, and patientRef becomes patientId; a
 * reference to a later or unknown localRef is removed and reported (normalizers emit targets first).
 *
 * Records are written in dependency waves: every record whose targets are already stored goes in
 * the same wave, and a wave's putRecord calls are issued together so the store can commit them as
 * one batch (LMDB: one transaction commit and fsync per wave instead of per record; a 30-record
 * ORU takes ~4 commits). The outcome is the same as writing one by one in message order: a record
 * still only sees targets with a smaller index, and results are reported in message order.
 *
 * Provenance feed, participant, rawId and receivedAt come from the raw, not from the normalizer:
 * access control reads provenance.participant, so a mapping bug must not be able to change it.
 * Store errors propagate (the worker retries the whole message; putRecord's matching makes the
 * replay idempotent).
 * @param store - where records go
 * @param raw - the message the records come from
 * @param mapping - normalizer name@version, used when a record's provenance has no mapping
 * @param records - in the normalizer's order: targets before the records that refer to them
 * @param route - destinations for a record header (routes.yaml); they join the record's sharedWith
 * @param identityDomain - the feed's shared identity domain (feeds.yaml identity.domain), if any
 */
export async function writeRecords(
  store: Store, raw: RawMessage, mapping: string, records: readonly NormalizedRecord[], route: RouteFn = () => [], identityDomain?: string,
): Promise<WriteResult> {
  const plan = planWaves(records);
  const results: Array<PutRecordResult | undefined> = new Array(records.length);
  const perRecord: Issue[][] = records.map(() => []);
  const resolve = (i: number, ref: string): string | undefined => {
    const j = plan.first.get(ref);
    const r = j !== undefined && j < i ? results[j] : undefined;
    return r && `${records[j!]!.resourceType}/${r.id}`;
  };
  for (const wave of plan.waves) {
    const inputs = wave.map((i) => {
      const input = routed(toInput(records[i]!, raw, mapping, (ref) => resolve(i, ref), perRecord[i]!), route);
      return identityDomain === undefined ? input : { ...input, identityDomain };
    });
    const done = await Promise.all(inputs.map((input) => store.putRecord(input)));
    wave.forEach((i, k) => {
      results[i] = done[k];
    });
  }
  const owners = new Map<string, string>();
  const written: WrittenRecord[] = records.map((record, i) => {
    const result = results[i]!;
    const previous = owners.get(result.id);
    if (previous !== undefined && previous !== record.localRef) {
      perRecord[i]!.push({ severity: 'warning', code: 'duplicate', where: whereOf(record), message: 'record matched the same canonical record as an earlier record of the message (shared identifier)' });
    }
    owners.set(result.id, record.localRef);
    if (result.conflict !== undefined) {
      perRecord[i]!.push({ severity: 'warning', code: 'conflict', where: whereOf(record), message: `identity-conflict ${result.conflict.id} (${result.conflict.reason}): stored as a new record, the existing one is untouched until an admin resolves it` });
    }
    if (plan.first.get(record.localRef) !== i) {
      perRecord[i]!.unshift({ severity: 'error', code: 'duplicate', where: whereOf(record), message: 'two records of the message share one localRef; the later one is not referable' });
    }
    return { localRef: record.localRef, resourceType: record.resourceType, id: result.id, version: result.version, status: result.status };
  });
  return { records: written, issues: perRecord.flat() };
}

/** Routing as the writer needs it (Router.route); pure. */
export type RouteFn = (header: RecordHeader) => string[];

function routed(input: RecordInput, route: RouteFn): RecordInput {
  const to = route({ resourceType: input.resourceType, feed: input.provenance.feed, participant: input.provenance.participant, labels: input.labels ?? [] });
  return to.length === 0 ? input : { ...input, sharedWith: [...new Set([...(input.sharedWith ?? []), ...to])].sort() };
}

const whereOf = (record: NormalizedRecord): string => record.provenance?.location || record.resourceType;

/**
 * Wave of each record: 0 when it refers to no earlier record, else one more than the highest wave
 * among the earlier records it refers to (references and patientRef).
 */
function planWaves(records: readonly NormalizedRecord[]): { waves: number[][]; first: Map<string, number> } {
  const first = new Map<string, number>();
  records.forEach((r, i) => {
    if (!first.has(r.localRef)) first.set(r.localRef, i);
  });
  const level: number[] = [];
  const waves: number[][] = [];
  records.forEach((r, i) => {
    let l = 0;
    const refs = localReferencesIn(r.resource);
    if (r.patientRef !== undefined) refs.push(r.patientRef);
    for (const ref of refs) {
      const j = first.get(ref);
      if (j !== undefined && j < i) l = Math.max(l, level[j]! + 1);
    }
    level.push(l);
    (waves[l] ??= []).push(i);
  });
  return { waves, first };
}

/** The RecordInput for one record, with references resolved; linking problems go to `issues`. */
function toInput(record: NormalizedRecord, raw: RawMessage, mapping: string, resolve: (ref: string) => string | undefined, issues: Issue[]): RecordInput {
  // id and patientId are canonical ids a pure normalizer cannot know: never taken from it.
  // identityDomain comes from the feed's config, never from a normalizer.
  const { localRef, patientRef, id: _id, patientId: _patientId, identityDomain: _domain, ...rest } = record;
  const where = whereOf(record);
  const rewritten = rewriteLocalReferences(record.resource, resolve);
  if (rewritten.unresolved.length > 0) {
    issues.push({ severity: 'error', code: 'invariant', where, message: `${rewritten.unresolved.length} local reference(s) have no earlier record in the message; removed` });
  }
  let patientId: string | undefined;
  if (patientRef !== undefined && patientRef !== localRef) {
    const target = resolve(patientRef);
    if (target?.startsWith('Patient/')) patientId = target.slice('Patient/'.length);
    else issues.push({ severity: 'error', code: 'invariant', where, message: 'patientRef names no Patient stored earlier in the message' });
  }
  return {
    ...rest,
    resource: rewritten.resource,
    identifiers: record.identifiers.length > 0 ? record.identifiers : [sourceIdentifier(raw.id, localRef)],
    provenance: {
      ...record.provenance,
      feed: raw.feed,
      participant: raw.participant,
      rawId: raw.id,
      receivedAt: raw.receivedAt.toISOString(),
      mapping: record.provenance?.mapping || mapping,
    },
    ...(patientId === undefined ? {} : { patientId }),
  };
}

/** The index identifier a record without business identifiers gets. */
export function sourceIdentifier(rawId: string, localRef: string): Identifier {
  return { system: SOURCE_SYSTEM, value: `${rawId}#${localRef}` };
}
