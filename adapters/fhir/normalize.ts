import { LOCAL_REF_PREFIX, type Normalized, type NormalizedRecord, type Normalizer } from '../../gateway/core/ports.js';
import { sourceIdentifier } from '../../gateway/core/ids.js';
import type { FhirResource, Identifier, RawMessage } from '../../gateway/core/types.js';
import { identityRules, provesPatientIdentity, type IdentityOptions, type IdentityRules } from '../identity.js';
import { bundleGraph, type BundleEntryLike } from './bundle-graph.js';
import { conditionOfLine, updateOfLine } from './request-line.js';

export const FHIR_MAPPING = 'fhir-r4@1';
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
/** Elements through which a resource names the patient it is about (the Patient compartment's usual links). */
const PATIENT_LINKS = ['subject', 'patient', 'beneficiary'];

/** Options of one FHIR feed's normalizer (feeds.yaml). */
export interface FhirNormalizerOptions {
  identity?: IdentityOptions;
}

/**
 * FHIR R4 → canonical records. The intake has validated the body and refused what cannot be
 * stored, so this reads a resource (`POST Type`) or a transaction Bundle (`POST` to the base) and
 * keeps each resource as sent: the store assigns `id` and `meta.versionId`/`lastUpdated`, nothing
 * else changes except references between the bundle's entries, which become references to the
 * records stored for them.
 *
 * Identity: a Patient is matched on the identifiers the feed's rules trust (adapters/identity.ts),
 * in the writer's identity domain, so the same patient from an ADT feed and from a FHIR POST is one
 * record. Every other resource is a new record, as a FHIR create is; a replay of the same raw lands
 * on the same records (source keys). A conditional create (`POST Type?identifier=s|v`, from
 * If-None-Exist) also matches on that identifier, and a match leaves the existing record as is.
 */
export function createFhirNormalizer(options: FhirNormalizerOptions = {}): Normalizer {
  const rules = identityRules(options.identity);
  return {
    format: 'fhir-r4', name: FHIR_MAPPING,
    normalize: (raw) => normalizeRaw(raw, rules),
  };
}

function normalizeRaw(raw: RawMessage, rules: IdentityRules): Normalized {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(raw.body).toString('utf8'));
  } catch {
    return { ok: false, issues: [{ severity: 'error', code: 'structure', where: 'body', message: 'the stored body is not JSON' }] };
  }
  if (!isResource(body)) return { ok: false, issues: [{ severity: 'error', code: 'structure', where: 'body', message: 'the stored body is not a FHIR resource' }] };
  if (raw.request === 'POST' && body.resourceType === 'Bundle') return transaction(raw, body, rules);
  const single = record(raw, body, 'resource', body.resourceType, rules);
  const update = updateOfLine(raw.request, body.resourceType);
  if (update) return { ok: true, records: [{ ...single, updateOf: update }], issues: [] };
  // A conditional create (If-None-Exist): the condition is a match key, and a match is kept as is.
  const condition = conditionOfLine(raw.request);
  const records = condition === undefined ? [single] : [{ ...single, matchKeys: [...(single.matchKeys ?? []), condition], onMatch: 'keep' as const }];
  return { ok: true, records, issues: [] };
}

/** The entries of a transaction, targets first, each reference to another entry made local. */
function transaction(raw: RawMessage, bundle: FhirResource, rules: IdentityRules): Normalized {
  const entries = (Array.isArray(bundle.entry) ? bundle.entry : []) as BundleEntryLike[];
  const graph = bundleGraph(entries);
  if (!graph.order) {
    return { ok: false, issues: [{ severity: 'error', code: 'invariant', where: `Bundle.entry[${graph.cycle[0] ?? 0}]`, message: 'the entries refer to each other in a cycle' }] };
  }
  const localRef = (i: number): string => `entry-${i}`;
  const records = graph.order.flatMap((i) => {
    const resource = entries[i]?.resource;
    if (!isResource(resource)) return [];
    const local = rewrite(resource, (ref) => {
      const target = graph.byUrl.get(ref);
      return target === undefined || target === i ? undefined : `${LOCAL_REF_PREFIX}${localRef(target)}`;
    }) as FhirResource;
    const patientEntry = patientTarget(resource, graph.byUrl, entries);
    return [record(raw, local, localRef(i), `Bundle.entry[${i}]`, rules, patientEntry === undefined ? undefined : localRef(patientEntry))];
  });
  return { ok: true, records, issues: [] };
}

function record(raw: RawMessage, resource: FhirResource, localRef: string, location: string, rules: IdentityRules, patientRef?: string): NormalizedRecord {
  const { id: _clientId, ...kept } = resource;
  const identifiers = identifiersOf(resource);
  const trusted = resource.resourceType === 'Patient' ? patientKeys(resource, rules) : [];
  return {
    localRef,
    resourceType: resource.resourceType,
    resource: kept as FhirResource,
    identifiers,
    matchKeys: trusted.length > 0 ? trusted : [sourceIdentifier(raw.id, localRef)],
    provenance: {
      feed: raw.feed, participant: raw.participant, rawId: raw.id, location, mapping: FHIR_MAPPING,
      receivedAt: raw.receivedAt.toISOString(),
    },
    ...(patientRef === undefined ? {} : { patientRef }),
  };
}

interface FhirIdentifier { system?: unknown; value?: unknown; use?: unknown; type?: { coding?: Array<{ system?: unknown; code?: unknown }> } }

/** Business identifiers with a system and a value (`identifier` is a list on most types, single on a few). */
function identifiersOf(resource: FhirResource): Identifier[] {
  const raw = resource.identifier;
  const list = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]) as FhirIdentifier[];
  const out: Identifier[] = [];
  for (const i of list) {
    if (typeof i.system === 'string' && typeof i.value === 'string' && !out.some((o) => o.system === i.system && o.value === i.value)) out.push({ system: i.system, value: i.value });
  }
  return out;
}

/** The Patient's identifiers that prove identity under the feed's rules; never an `old` one. */
function patientKeys(resource: FhirResource, rules: IdentityRules): Identifier[] {
  const list = (Array.isArray(resource.identifier) ? resource.identifier : []) as FhirIdentifier[];
  const out: Identifier[] = [];
  for (const i of list) {
    if (typeof i.system !== 'string' || typeof i.value !== 'string' || i.use === 'old') continue;
    const type = i.type?.coding?.find((c) => c.system === V2_0203 && typeof c.code === 'string')?.code as string | undefined;
    if (provesPatientIdentity(i.system, i.value, type ?? '', rules) && !out.some((o) => o.system === i.system && o.value === i.value)) out.push({ system: i.system, value: i.value });
  }
  return out;
}

/** The entry (index) of the Patient this resource is about, when it is in the bundle. */
function patientTarget(resource: FhirResource, byUrl: ReadonlyMap<string, number>, entries: readonly BundleEntryLike[]): number | undefined {
  for (const link of PATIENT_LINKS) {
    const ref = (resource[link] as { reference?: unknown } | undefined)?.reference;
    const target = typeof ref === 'string' ? byUrl.get(ref) : undefined;
    if (target !== undefined && (entries[target]?.resource as { resourceType?: unknown } | undefined)?.resourceType === 'Patient') return target;
  }
  return undefined;
}

/** A copy of `value` with each `reference` the mapper answers replaced (the input is not changed). */
function rewrite(value: unknown, map: (reference: string) => string | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => rewrite(v, map));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = key === 'reference' && typeof v === 'string' ? (map(v) ?? v) : rewrite(v, map);
  }
  return out;
}

function isResource(v: unknown): v is FhirResource {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { resourceType?: unknown }).resourceType === 'string';
}
