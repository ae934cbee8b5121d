/**
 * The key fields the fidelity test compares, per resource type, and how each is reduced to
 * comparable atoms. An atom is a small record of normalized components:
 *   - a string component matches an equal string (strings are trimmed; names and addresses lower-cased);
 *   - an array component matches when the two arrays share at least one element (codes: any coding
 *     of theirs equal to any coding of ours, SYSTEM IGNORED — the Microsoft templates invent
 *     `http://example.com/v2-to-fhir-converter/...` systems for local codes, so systems cannot agree);
 *   - only components present on THEIR side are checked: an address of theirs with no postalCode
 *     matches one of ours that has one.
 * Names compare family + FIRST given name (the converter appends XPN-15 "called by" to given);
 * addresses compare city, state, postalCode and country, NOT street lines (the converter splits
 * SAD components into separate lines and appends other free-text components to them).
 * Datetimes are canonical instants (`toISOString()`) when they carry a time, because the expected
 * Bundles shift offsets (the converter ran in +05:30) while meaning the same instant; dates keep
 * their precision (`1963`, `1963-08`, `1963-08-15`) and must be equal as written.
 */
import type { FhirResource } from '../../../gateway/core/types.js';

/** One comparable value. */
export type Atom = Record<string, string | string[]>;

/** Resolves `Type/id` within the same side (their Bundle, or our records after local-ref rewriting). */
export type Lookup = (reference: string) => FhirResource | undefined;

/** How one key field is read from a resource (the same reader serves both sides). */
export interface FieldSpec {
  name: string;
  read(resource: FhirResource, lookup: Lookup): Atom[];
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' ? String(v) : undefined);
const low = (v: unknown): string | undefined => str(v)?.toLowerCase().replace(/\s+/g, ' ');
const compact = (a: Record<string, string | string[] | undefined>): Atom => {
  const out: Atom = {};
  for (const [k, v] of Object.entries(a)) if (v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0)) out[k] = v;
  return out;
};
const nonEmpty = (atoms: Atom[]): Atom[] => atoms.filter((a) => Object.keys(a).length > 0);

/** FHIR date/dateTime/instant → comparable form (see file comment). */
export function canonicalTime(v: unknown): string | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (!s.includes('T')) return s;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? s : new Date(ms).toISOString();
}

/** Every coding code of a CodeableConcept (system ignored, see file comment). */
export function codesOf(cc: unknown): string[] {
  return arr(obj(cc)?.coding).map((c) => str(obj(c)?.code)).filter((c): c is string => c !== undefined);
}

const code = (path: string) => (r: FhirResource): Atom[] => nonEmpty([compact({ codes: codesOf(r[path]) })]);
const time = (get: (r: Json) => unknown) => (r: FhirResource): Atom[] => nonEmpty([compact({ t: canonicalTime(get(r)) })]);
const plain = (path: string) => (r: FhirResource): Atom[] => nonEmpty([compact({ v: str(r[path]) })]);

function observationValue(r: FhirResource): Atom[] {
  const q = obj(r.valueQuantity);
  if (q) return nonEmpty([compact({ v: typeof q.value === 'number' ? String(q.value) : str(q.value) })]);
  if (r.valueCodeableConcept !== undefined) return nonEmpty([compact({ codes: codesOf(r.valueCodeableConcept) })]);
  for (const key of ['valueDateTime', 'valueTime', 'valuePeriod']) {
    if (r[key] !== undefined) return nonEmpty([compact({ t: canonicalTime(key === 'valuePeriod' ? obj(r[key])?.start : r[key]) })]);
  }
  for (const key of ['valueString', 'valueInteger', 'valueBoolean']) {
    if (r[key] !== undefined) return nonEmpty([compact({ v: typeof r[key] === 'boolean' ? String(r[key]) : str(r[key]) })]);
  }
  return [];
}

function medicationCode(r: FhirResource, lookup: Lookup): Atom[] {
  if (r.medicationCodeableConcept !== undefined) return nonEmpty([compact({ codes: codesOf(r.medicationCodeableConcept) })]);
  const ref = str(obj(r.medicationReference)?.reference);
  const med = ref === undefined ? undefined : lookup(ref);
  return med ? nonEmpty([compact({ codes: codesOf(med.code) })]) : [];
}

/** Key fields per compared resource type (the brief's list). */
export const KEY_FIELDS: Record<string, FieldSpec[]> = {
  Patient: [
    { name: 'identifier', read: (r) => nonEmpty(arr(r.identifier).map((i) => compact({ value: str(obj(i)?.value) }))) },
    {
      name: 'name',
      read: (r) => nonEmpty(arr(r.name).map((n) => compact({
        family: low(obj(n)?.family),
        given: low(arr(obj(n)?.given).map(str).find(Boolean)),
      }))),
    },
    { name: 'birthDate', read: time((r) => r.birthDate) },
    { name: 'gender', read: plain('gender') },
    {
      name: 'address',
      read: (r) => nonEmpty(arr(r.address).map((a) => {
        const o = obj(a) ?? {};
        return compact({ city: low(o.city), state: low(o.state), postalCode: low(o.postalCode), country: low(o.country) });
      })),
    },
  ],
  Encounter: [
    { name: 'class', read: (r) => nonEmpty([compact({ codes: arr(r.class).map((c) => str(obj(c)?.code)).filter((c): c is string => c !== undefined) })]) },
    { name: 'status', read: plain('status') },
    { name: 'period.start', read: time((r) => obj(r.period)?.start) },
    { name: 'period.end', read: time((r) => obj(r.period)?.end) },
  ],
  Observation: [
    { name: 'code', read: code('code') },
    { name: 'value', read: observationValue },
    {
      name: 'unit',
      read: (r) => {
        const q = obj(r.valueQuantity);
        return q ? nonEmpty([compact({ u: [str(q.unit), str(q.code)].filter((u): u is string => u !== undefined) })]) : [];
      },
    },
    { name: 'status', read: plain('status') },
    { name: 'effective', read: time((r) => r.effectiveDateTime ?? r.effectiveInstant ?? obj(r.effectivePeriod)?.start) },
  ],
  Condition: [{ name: 'code', read: code('code') }],
  DiagnosticReport: [{ name: 'code', read: code('code') }],
  MedicationRequest: [{ name: 'medication', read: medicationCode }],
  Immunization: [{ name: 'vaccineCode', read: code('vaccineCode') }],
  ServiceRequest: [{ name: 'code', read: code('code') }],
  Appointment: [
    { name: 'start', read: time((r) => r.start) },
    { name: 'end', read: time((r) => r.end) },
  ],
};

/**
 * True when `ours` satisfies every component present in `theirs`: strings equal, arrays intersecting.
 * @param theirs - atom from the expected Bundle
 * @param ours - atom from our records
 */
export function atomMatches(theirs: Atom, ours: Atom): boolean {
  for (const [k, want] of Object.entries(theirs)) {
    const got = ours[k];
    if (got === undefined) return false;
    if (Array.isArray(want)) {
      const have = new Set(Array.isArray(got) ? got : [got]);
      if (!want.some((w) => have.has(w))) return false;
    } else if (Array.isArray(got) ? !got.includes(want) : got !== want) {
      return false;
    }
  }
  return true;
}
