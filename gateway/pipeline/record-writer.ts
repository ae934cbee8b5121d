import type { NormalizedRecord, RecordTxn, Store } from '../core/ports.js';
import type { PutRecordResult, RawMessage, RecordInput } from '../core/types.js';
import { sourceIdentifier } from '../core/ids.js';
import type { Issue } from '../core/issues.js';
import { rewriteLocalReferences } from './reference-rewrite.js';
import type { RecordHeader } from '../router/router.js';

/** Where a record without business identifiers is indexed (its raw and localRef). */
export { SOURCE_SYSTEM, sourceIdentifier } from '../core/ids.js';

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
 * Stores a message's records inside a batch transaction (Store.commitBatch), in message order.
 * Each record's local references are rewritten to `Type/id` of the record stored for that localRef
 * EARLIER in the message, and patientRef becomes patientId; a reference to a later or unknown
 * localRef is removed and reported (normalizers emit targets first).
 *
 * Two records of one message never merge: a record whose match keys find a record an earlier
 * record of the message was written to opens a `same-message` identity conflict instead.
 *
 * Provenance feed, participant, rawId and receivedAt come from the raw, not from the normalizer:
 * access control reads provenance.participant, so a mapping bug must not be able to change it.
 * Store errors propagate and roll the whole batch back.
 * @param txn - the batch's record writer
 * @param raw - the message the records come from
 * @param mapping - normalizer name@version, used when a record's provenance has no mapping
 * @param records - in the normalizer's order: targets before the records that refer to them
 * @param route - destinations for a record header (routes.yaml); they join the record's sharedWith
 * @param identityDomain - the feed's shared identity domain (feeds.yaml identity.domain), if any
 */
export function writeRecordsIn(
  txn: RecordTxn, raw: RawMessage, mapping: string, records: readonly NormalizedRecord[], route: RouteFn = () => [], identityDomain?: string,
): WriteResult {
  const first = new Map<string, number>();
  records.forEach((r, i) => {
    if (!first.has(r.localRef)) first.set(r.localRef, i);
  });
  const results: PutRecordResult[] = [];
  const issues: Issue[] = [];
  const written: WrittenRecord[] = records.map((record, i) => {
    const resolve = (ref: string): string | undefined => {
      const j = first.get(ref);
      return j !== undefined && j < i ? `${records[j]!.resourceType}/${results[j]!.id}` : undefined;
    };
    if (first.get(record.localRef) !== i) {
      issues.push({ severity: 'error', code: 'duplicate', where: whereOf(record), message: 'two records of the message share one localRef; the later one is not referable' });
    }
    const routedInput = routed(toInput(record, raw, mapping, resolve, issues), route);
    const input = identityDomain === undefined ? routedInput : { ...routedInput, identityDomain };
    const notOnto = new Set(results.filter((_, j) => records[j]!.localRef !== record.localRef).map((r) => r.id));
    const result = txn.putRecord(input, { notOnto });
    results.push(result);
    if (result.stale) {
      issues.push({ severity: 'error', code: 'conflict', where: 'If-Match', message: `version ${input.ifVersion ?? ''} is no longer the latest (${result.version}); nothing was written` });
    }
    if (result.conflict !== undefined) {
      issues.push({ severity: 'warning', code: 'conflict', where: whereOf(record), message: `identity-conflict ${result.conflict.id} (${result.conflict.reason}): stored as a new record, the existing one is untouched until an admin resolves it` });
    }
    return { localRef: record.localRef, resourceType: record.resourceType, id: result.id, version: result.version, status: result.status };
  });
  return { records: written, issues };
}

/**
 * writeRecordsIn as a batch of its own (one commit): for callers outside the normalize worker.
 * @param store - where records go
 * @param raw - the message the records come from
 * @param mapping - normalizer name@version
 * @param records - in the normalizer's order
 * @param route - destinations for a record header
 * @param identityDomain - the feed's shared identity domain, if any
 */
export async function writeRecords(
  store: Store, raw: RawMessage, mapping: string, records: readonly NormalizedRecord[], route: RouteFn = () => [], identityDomain?: string,
): Promise<WriteResult> {
  const { result } = await store.commitBatch([], (txn) => writeRecordsIn(txn, raw, mapping, records, route, identityDomain));
  return result;
}

/** Routing as the writer needs it (Router.route); pure. */
export type RouteFn = (header: RecordHeader) => string[];

function routed(input: RecordInput, route: RouteFn): RecordInput {
  const to = route({ resourceType: input.resourceType, feed: input.provenance.feed, participant: input.provenance.participant, labels: input.labels ?? [] });
  return to.length === 0 ? input : { ...input, sharedWith: [...new Set([...(input.sharedWith ?? []), ...to])].sort() };
}

const whereOf = (record: NormalizedRecord): string => record.provenance?.location || record.resourceType;

/** The RecordInput for one record, with references resolved; linking problems go to `issues`. */
function toInput(record: NormalizedRecord, raw: RawMessage, mapping: string, resolve: (ref: string) => string | undefined, issues: Issue[]): RecordInput {
  // id and patientId are canonical ids a pure normalizer cannot know: never taken from it (an
  // update names its record in updateOf, honoured only when the raw's request names it too).
  // identityDomain comes from the feed's config, never from a normalizer.
  const { localRef, patientRef, id: _id, patientId: _patientId, identityDomain: _domain, updateOf, ifVersion: _ifVersion, ...rest } = record;
  const where = whereOf(record);
  const target = updateOf !== undefined && requestNames(raw.request, record.resourceType, updateOf.id) ? updateOf : undefined;
  if (updateOf !== undefined && target === undefined) {
    issues.push({ severity: 'fatal', code: 'security', where, message: 'an update of a record the request did not name: stored as a record of its own' });
  }
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
    ...(target === undefined ? {} : { id: target.id, ...(target.ifVersion === undefined ? {} : { ifVersion: target.ifVersion }) }),
  };
}

/** True when the raw arrived as `PUT Type/id` (with or without a query). */
function requestNames(request: string | undefined, type: string, id: string): boolean {
  const line = `PUT ${type}/${id}`;
  return request === line || request?.startsWith(`${line}?`) === true;
}
