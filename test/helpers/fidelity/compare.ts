/**
 * Compares our records for one message with the expected Bundle, on KEY_FIELDS only.
 *
 * What counts (the definition the printed table uses):
 *   - A CHECK is one atom of a key field on THEIR side (one identifier, one name, one address, one
 *     birthDate, one Observation.code …) of a resource of a compared type.
 *   - It is MATCHED when the resource of ours paired with theirs has an atom of the same field that
 *     satisfies it (key-fields.ts: atomMatches).
 *   - A field present on theirs and absent on ours is a miss; a resource of theirs with no partner of
 *     ours is a miss for each of its checks; a message we could not normalize misses everything.
 *   - A field present on ours and absent on theirs is NOT counted, nor are resources only we produce
 *     (they are reported as counts, `extra`). Generated ids, meta, timestamps of generation, and
 *     every field outside KEY_FIELDS are ignored.
 *
 * Pairing, per resource type: (1) same natural key (Observation: code + value; Patient: a shared
 * identifier value; coded types: a shared code; Appointment: start), (2) same code only,
 * (3) the remaining ones in message order. Pairing is one-to-one.
 */
import type { FhirResource } from '../../../gateway/core/types.js';
import { KEY_FIELDS, atomMatches, codesOf, type Lookup } from './key-fields.js';

/** Checks and matches of one field. */
export interface FieldScore {
  checks: number;
  matched: number;
}

/** Result for one message: per `Type.field`, plus pairing counts per type. */
export interface MessageScore {
  fields: Map<string, FieldScore>;
  /** Resources of theirs with no partner of ours, per type. */
  unpaired: Map<string, number>;
  /** Resources of ours with no partner of theirs, per type (not counted in the rates). */
  extra: Map<string, number>;
}

/** One side: its resources and a resolver for `Type/id` references inside it. */
export interface Side {
  resources: FhirResource[];
  lookup: Lookup;
}

/** Their side from a FHIR Bundle (references are `Type/id` or the entry fullUrl). */
export function bundleSide(bundle: { entry?: Array<{ fullUrl?: string; resource?: FhirResource }> }): Side {
  const byRef = new Map<string, FhirResource>();
  const resources: FhirResource[] = [];
  for (const e of bundle.entry ?? []) {
    if (!e.resource) continue;
    resources.push(e.resource);
    if (e.resource.id) byRef.set(`${e.resource.resourceType}/${e.resource.id}`, e.resource);
    if (e.fullUrl) byRef.set(e.fullUrl, e.resource);
  }
  return { resources, lookup: (ref) => byRef.get(ref) };
}

function firstCodes(r: FhirResource): string[] {
  for (const key of ['code', 'vaccineCode', 'medicationCodeableConcept']) {
    const c = codesOf(r[key]);
    if (c.length > 0) return c;
  }
  return [];
}

function naturalKey(r: FhirResource, lookup: Lookup): string | undefined {
  const fields = KEY_FIELDS[r.resourceType] ?? [];
  if (r.resourceType === 'Observation') {
    const parts = fields.filter((f) => f.name === 'code' || f.name === 'value').map((f) => JSON.stringify(f.read(r, lookup)));
    return parts.join('|');
  }
  if (r.resourceType === 'Appointment') return JSON.stringify(fields.find((f) => f.name === 'start')?.read(r, lookup) ?? []);
  return undefined;
}

function loosePair(a: FhirResource, b: FhirResource): boolean {
  if (a.resourceType === 'Patient') {
    const ids = (r: FhirResource): string[] => (KEY_FIELDS.Patient?.[0]?.read(r, () => undefined) ?? []).map((x) => String(x.value));
    const theirs = new Set(ids(a));
    return ids(b).some((v) => theirs.has(v));
  }
  const ca = firstCodes(a);
  const cb = new Set(firstCodes(b));
  return ca.some((c) => cb.has(c));
}

/** Pairs theirs with ours of one type; returns [their index, our index | undefined]. */
function pair(theirs: FhirResource[], ours: FhirResource[], t: Side, o: Side): Array<[number, number | undefined]> {
  const taken = new Set<number>();
  const partner = new Map<number, number>();
  const pass = (same: (a: FhirResource, b: FhirResource) => boolean): void => {
    theirs.forEach((a, i) => {
      if (partner.has(i)) return;
      const j = ours.findIndex((b, k) => !taken.has(k) && same(a, b));
      if (j >= 0) {
        partner.set(i, j);
        taken.add(j);
      }
    });
  };
  pass((a, b) => {
    const ka = naturalKey(a, t.lookup);
    return ka !== undefined && ka === naturalKey(b, o.lookup);
  });
  pass(loosePair);
  pass(() => true);
  return theirs.map((_, i) => [i, partner.get(i)]);
}

/**
 * Scores one message.
 * @param theirs - the expected Bundle's side
 * @param ours - our records' side (local references already resolved)
 */
export function scoreMessage(theirs: Side, ours: Side): MessageScore {
  const score: MessageScore = { fields: new Map(), unpaired: new Map(), extra: new Map() };
  for (const [type, specs] of Object.entries(KEY_FIELDS)) {
    const a = theirs.resources.filter((r) => r.resourceType === type);
    const b = ours.resources.filter((r) => r.resourceType === type);
    const pairs = pair(a, b, theirs, ours);
    const unpaired = pairs.filter(([, j]) => j === undefined).length;
    if (unpaired > 0) score.unpaired.set(type, unpaired);
    if (b.length > a.length) score.extra.set(type, b.length - a.length);
    for (const [i, j] of pairs) {
      for (const spec of specs) {
        const want = spec.read(a[i]!, theirs.lookup);
        if (want.length === 0) continue;
        const have = j === undefined ? [] : spec.read(b[j]!, ours.lookup);
        const key = `${type}.${spec.name}`;
        const fs = score.fields.get(key) ?? { checks: 0, matched: 0 };
        fs.checks += want.length;
        fs.matched += want.filter((w) => have.some((h) => atomMatches(w, h))).length;
        score.fields.set(key, fs);
      }
    }
  }
  return score;
}
