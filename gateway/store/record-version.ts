import { MODEL_VERSION, type CanonicalRecord, type RecordInput } from '../core/types.js';
import { canonicalJson } from './canonical-json.js';

/**
 * The input as it applies on top of `latest`: everyone who could see the record keeps seeing it,
 * and a record about a patient stays about that patient when the input names none (an update
 * that does not say which patient never unlinks one silently). Matching never crosses identity
 * domains (record-match.ts), so the previous writer joining `sharedWith` only ever happens
 * inside a domain the admin shared explicitly.
 */
export function carryAccess(input: RecordInput, latest: CanonicalRecord): RecordInput {
  const audience = new Set([...(input.sharedWith ?? []), ...latest.sharedWith, latest.provenance.participant]);
  audience.delete(input.provenance.participant);
  const patient = input.patientId === undefined && latest.patientId !== undefined ? { patientId: latest.patientId } : {};
  return { ...input, ...patient, sharedWith: [...audience].sort() };
}

/** True when the input would change what the latest version says (provenance alone is not a change). */
export function recordChanged(latest: CanonicalRecord, input: RecordInput): boolean {
  return canonicalJson(comparable(latest)) !== canonicalJson(comparable(input));
}

function comparable(r: RecordInput | CanonicalRecord): unknown {
  const { id: _ignored, meta, ...resource } = r.resource as Record<string, unknown>;
  // versionId and lastUpdated are ours; the rest of meta (profile, security, tag) is content.
  const { versionId: _v, lastUpdated: _u, ...sourceMeta } = (meta ?? {}) as Record<string, unknown>;
  return {
    resource,
    meta: sourceMeta,
    labels: [...(r.labels ?? [])].sort(),
    identifiers: [...r.identifiers].map((i) => `${i.system}|${i.value}`).sort(),
    sharedWith: [...(r.sharedWith ?? [])].sort(),
    patientId: r.patientId,
  };
}

/**
 * The next version of a record. The FHIR resource gets id and meta.versionId/lastUpdated set,
 * so what /fhir returns is a proper R4 resource.
 */
export function nextVersion(input: RecordInput, id: string, version: number, now: Date = new Date()): CanonicalRecord {
  const lastUpdated = now.toISOString();
  return {
    id,
    resourceType: input.resourceType,
    version,
    modelVersion: MODEL_VERSION,
    resource: { ...input.resource, id, meta: { ...(input.resource.meta as object | undefined), versionId: String(version), lastUpdated } },
    provenance: input.provenance,
    labels: [...(input.labels ?? [])],
    identifiers: [...input.identifiers],
    ...(input.patientId === undefined ? {} : { patientId: input.patientId }),
    ...(input.matchKeys === undefined ? {} : { matchKeys: [...input.matchKeys] }),
    ...(input.identityDomain === undefined ? {} : { identityDomain: input.identityDomain }),
    lastUpdated,
    sharedWith: [...(input.sharedWith ?? [])],
  };
}
