import { GatewayError } from '../../protocol/errors.js';
import type { Store } from '../core/ports.js';
import type { CanonicalRecord, FhirResource, IdentityConflict, RecordInput } from '../core/types.js';

/** Extension on a record retired by a `linked` decision: the record its data now lives in. */
export const LINKED_INTO = 'urn:passerelle:linked-into';

/**
 * Applies an admin's `linked` decision: the conflict's new record and the one existing record it
 * matched are the same entity. In one batch commit, the existing record gets the new record's
 * data as its next version (the update the match would have made), and the new record gets a last
 * version that points at it (`link` replaced-by and `active: false` for a Patient, the LINKED_INTO
 * extension otherwise) and gives up its identifiers and match keys, so searches find the
 * survivor only. Both histories keep every earlier version, so the decision can be undone by hand.
 * References other records hold to the retired record are left as they are.
 * @param store - where the records are
 * @param conflict - an open conflict
 * @returns the survivor's id and new version
 */
export async function applyIdentityLink(store: Store, conflict: IdentityConflict): Promise<{ id: string; version: number }> {
  if (conflict.existingIds.length !== 1) {
    throw new GatewayError('PSL_BAD_REQUEST', `linked needs one existing record; this conflict matched ${conflict.existingIds.length} (keep them separate, or correct the source)`);
  }
  const survivorId = conflict.existingIds[0]!;
  const incoming = await store.getRecord(conflict.recordId);
  if (incoming === undefined) throw new GatewayError('PSL_NOT_FOUND', `record ${conflict.recordId} of the conflict does not exist`);
  const { result } = await store.commitBatch([], (txn) => {
    // Retire first: it releases the match keys the new record claimed, so the survivor takes them.
    txn.putRecord({ ...inputOf(incoming), id: incoming.id, resource: retired(incoming, survivorId), identifiers: [], matchKeys: [] });
    return txn.putRecord({ ...inputOf(incoming), id: survivorId });
  });
  return { id: survivorId, version: result.version };
}

function inputOf(record: CanonicalRecord): RecordInput {
  return {
    resourceType: record.resourceType, resource: record.resource, identifiers: record.identifiers, provenance: record.provenance,
    labels: record.labels, sharedWith: record.sharedWith,
    ...(record.matchKeys === undefined ? {} : { matchKeys: record.matchKeys }),
    ...(record.identityDomain === undefined ? {} : { identityDomain: record.identityDomain }),
    ...(record.patientId === undefined ? {} : { patientId: record.patientId }),
  };
}

function retired(record: CanonicalRecord, survivorId: string): FhirResource {
  const reference = { reference: `${record.resourceType}/${survivorId}` };
  const resource = record.resource;
  if (record.resourceType === 'Patient') {
    return { ...resource, active: false, link: [{ other: reference, type: 'replaced-by' }] };
  }
  const extension: unknown[] = Array.isArray(resource.extension) ? resource.extension : [];
  return { ...resource, extension: [...extension, { url: LINKED_INTO, valueReference: reference }] };
}
