import type { FhirResource } from '../../../gateway/core/types.js';
import { localRef, type Builder } from './context.js';
import { compact, cwe, mimeType, num, quantity, type Json } from './datatypes.js';
import { toDateTime, toInstant } from './datetime.js';
import type { Comp, SegReader } from './reader.js';
import { OBSERVATION_STATUS } from './tables.js';

/** What an OBX hangs on: patient, visit, order, specimen, and notes that follow it. */
export interface ObservationContext {
  patientRef: string | undefined;
  encounterRef?: string | undefined;
  basedOn?: string | undefined;
  specimenRef?: string | undefined;
  /** NTE segments following the OBX (its comments). */
  notes?: SegReader[];
  /** Category code (observation-category), e.g. `laboratory`, `vital-signs`. */
  category?: string;
}

const COMPARATORS = new Set(['<', '<=', '>=', '>']);
const INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
// Table 0078 codes that are also v3 ObservationInterpretation codes (the IG maps them one to one).
const V3_INTERPRETATION = new Set(['L', 'H', 'LL', 'HH', '<', '>', 'N', 'A', 'AA', 'U', 'D', 'B', 'W', 'S', 'R', 'I', 'MS', 'VS', 'NEG', 'POS', 'IND', 'E', 'EX', 'HX', 'LX', 'NR', 'QCF', 'TOX', 'CAR', 'RR', 'ND', 'DET']);

/**
 * OBX → Observation, for every OBX-2 value type (v2.5.1 table 0125). A value that does not fit its
 * declared type is kept as a string with a warning rather than dropped.
 * @returns the Observation localRef
 */
export function mapObservation(b: Builder, obx: SegReader, ctx: ObservationContext): string {
  obx.consume(1);
  const ref = `obs-${obx.occurrence}`;
  const status = obx.get(11).toUpperCase();
  const value = obxValue(b, obx);
  const code = cwe(obx.comp(3));
  if (!code) b.issue('warning', 'required', obx.where(3), 'OBX-3 observation identifier is empty');
  const effective = obx.get(14);
  const notes = (ctx.notes ?? []).flatMap((n) => {
    n.consume(1);
    return n.all(3).map((c) => c.c(1));
  }).filter(Boolean);
  const resource: FhirResource = compact({
    resourceType: 'Observation',
    basedOn: ctx.basedOn ? [localRef(ctx.basedOn)] : undefined,
    status: OBSERVATION_STATUS[status] ?? 'unknown',
    category: ctx.category
      ? [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: ctx.category }] }]
      : undefined,
    code: code ?? { text: 'unknown' },
    subject: ctx.patientRef ? localRef(ctx.patientRef) : undefined,
    encounter: ctx.encounterRef ? localRef(ctx.encounterRef) : undefined,
    effectiveDateTime: effective ? toDateTime(effective) : undefined,
    issued: toInstant(obx.get(19)),
    // OBX-16 responsible observer, then OBX-23 performing organization (by name: XON rarely has an id).
    performer: [...obx.all(16).map((c) => b.practitioner(c, obx)), obx.get(23) ? { display: obx.get(23) } : undefined].filter(Boolean),
    ...value,
    interpretation: obx.all(8).map(interpretation).filter(Boolean),
    note: notes.map((text) => ({ text })),
    bodySite: cwe(obx.comp(20)),
    method: cwe(obx.comp(17)),
    specimen: ctx.specimenRef ? localRef(ctx.specimenRef) : undefined,
    referenceRange: referenceRange(obx),
  });
  if (effective && !resource['effectiveDateTime']) b.issue('warning', 'value', obx.where(14), 'OBX-14 is not a valid HL7 DTM; effective time left empty');
  // Set ID and sub-ID are only used to tell observations apart; they are read for the identifier.
  const subId = obx.get(4);
  return b.add({
    localRef: ref,
    resource,
    location: obx.loc,
    identifiers: [b.messageIdentifier(subId ? `${ref}.${subId}` : ref)],
    ...(ctx.patientRef ? { patientRef: ctx.patientRef } : {}),
    sources: [obx, ...(ctx.notes ?? [])],
  });
}

/** OBX-5 → the matching `value[x]`; unknown types keep their text. */
function obxValue(b: Builder, obx: SegReader): Json {
  const type = obx.get(2).toUpperCase();
  const reps = obx.all(5);
  // A repeating OBX-5 (other than text lines and NA arrays) becomes one component per value, as
  // the IG maps it: Observation.value cannot repeat.
  if (reps.length > 1 && type !== 'TX' && type !== 'FT' && type !== 'NA') {
    const code = cwe(obx.comp(3)) ?? { text: 'unknown' };
    return { component: reps.map((r) => ({ code, ...valueOf(b, obx, type, [r]) })) };
  }
  return valueOf(b, obx, type, reps);
}

function valueOf(b: Builder, obx: SegReader, type: string, reps: Comp[]): Json {
  if (reps.length === 0) return {};
  const first = reps[0]!;
  const asString = (): Json => ({ valueString: reps.map(text).join(reps.length > 1 && (type === 'TX' || type === 'FT') ? '\n' : ' ') });
  const bad = (rule: string): Json => {
    b.issue('warning', 'value', obx.where(5), `OBX-5 ${rule}; kept as text`);
    return asString();
  };
  switch (type) {
    case 'NM': {
      const n = num(first.c(1));
      if (n === undefined) return bad('is not a valid NM');
      return { valueQuantity: quantity(n, obx.comp(6)) };
    }
    case 'SN':
      return structuredNumeric(first, obx.comp(6)) ?? bad('is not a valid SN');
    case 'CWE': case 'CE': case 'CNE': case 'CF': case 'CV': {
      const cc = cwe(first);
      return cc ? { valueCodeableConcept: cc } : {};
    }
    case 'IS': case 'ID':
      return { valueCodeableConcept: { coding: [{ code: first.c(1) }] } };
    case 'DT': case 'TS': case 'DTM': {
      const dt = toDateTime(first.c(1));
      return dt ? { valueDateTime: dt } : bad(`is not a valid ${type}`);
    }
    case 'TM': {
      const m = /^(\d{2})(\d{2})?(\d{2})?(\.\d+)?$/.exec(first.c(1));
      return m ? { valueTime: `${m[1]}:${m[2] ?? '00'}:${m[3] ?? '00'}` } : bad('is not a valid TM');
    }
    case 'DR': {
      const p = compact({ start: toDateTime(first.c(1, 1)), end: toDateTime(first.c(2, 1)) });
      return Object.keys(p).length ? { valuePeriod: p } : bad('is not a valid DR');
    }
    case 'NA': {
      // Numeric array: SampledData with origin 0 and no sampling period (the array is not a series in time).
      const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => first.c(i)).filter(Boolean);
      if (values.some((v) => num(v) === undefined)) return bad('is not a valid NA');
      return { valueSampledData: { origin: { value: 0 }, period: 0, dimensions: 1, data: values.join(' ') } };
    }
    case 'RP': case 'ED': {
      // R4 Observation.value[x] has no Attachment: the IG carries it in the R5 valueAttachment extension.
      const a = attachmentsOf(obx, type, [first])[0];
      if (!a) b.issue('warning', 'required', obx.where(5), 'OBX-5 document has neither data nor a pointer');
      return a ? { extension: [{ url: VALUE_ATTACHMENT, valueAttachment: a }] } : {};
    }
    case '':
      b.issue('warning', 'required', obx.where(2), 'OBX-2 value type is empty; OBX-5 kept as text');
      return asString();
    default:
      return asString();
  }
}

/** All components of a repetition joined by spaces (ST, TX, FT, and types without a FHIR shape). */
function text(c: Comp): string {
  const parts: string[] = [];
  for (let i = 1; i <= 12; i++) if (c.c(i)) parts.push(c.c(i));
  return parts.join(' ');
}

/** SN: comparator, num1, separator/suffix, num2 → Quantity, Range or Ratio. */
function structuredNumeric(c: Comp, units: Comp): Json | undefined {
  const cmp = c.c(1);
  const n1 = num(c.c(2));
  const sep = c.c(3);
  const n2 = num(c.c(4));
  if (sep === ':' || sep === '/') {
    if (n1 === undefined || n2 === undefined) return undefined;
    return { valueRatio: { numerator: { value: n1 }, denominator: { value: n2 } } };
  }
  if (sep === '-') {
    if (n1 === undefined || n2 === undefined) return undefined;
    return { valueRange: { low: quantity(n1, units), high: quantity(n2, units) } };
  }
  if (n1 === undefined) return undefined;
  const q = quantity(n1, units);
  if (cmp && cmp !== '=') {
    if (!COMPARATORS.has(cmp)) return undefined;
    q['comparator'] = cmp;
  }
  return { valueQuantity: q };
}

function interpretation(c: Comp): Json | undefined {
  const code = c.c(1);
  if (!code) return undefined;
  if (V3_INTERPRETATION.has(code.toUpperCase())) return { coding: [compact({ system: INTERPRETATION, code: code.toUpperCase(), display: c.c(2) })] };
  return cwe(c);
}

/** OBX-7 as text, plus low/high when it reads `low-high`, `<high` or `>low`. */
function referenceRange(obx: SegReader): Json[] | undefined {
  const t = obx.get(7);
  if (!t) return undefined;
  const units = obx.comp(6);
  const m = /^\s*(-?[\d.]+)\s*-\s*(-?[\d.]+)\s*$/.exec(t);
  const lo = m ? num(m[1]!) : undefined;
  const hi = m ? num(m[2]!) : undefined;
  const lt = /^\s*<=?\s*([\d.]+)\s*$/.exec(t);
  const gt = /^\s*>=?\s*([\d.]+)\s*$/.exec(t);
  const high = hi ?? (lt ? num(lt[1]!) : undefined);
  const low = lo ?? (gt ? num(gt[1]!) : undefined);
  return [compact({
    low: low === undefined ? undefined : quantity(low, units),
    high: high === undefined ? undefined : quantity(high, units),
    text: t,
  })];
}

/** The IG's OBX-5 ED / RP target (Segment OBX → Observation sheet). */
export const VALUE_ATTACHMENT = 'https://hl7.org/fhir/5.0/StructureDefinition/extension-Observation.valueAttachment';

/** OBX-5 ED (source, type, subtype, encoding, data) or RP (pointer, application, type, subtype) → Attachments. */
export function attachmentsOf(obx: SegReader, type: string = obx.get(2).toUpperCase(), reps: Comp[] = obx.all(5)): Json[] {
  const rp = type === 'RP';
  return reps.map((c): Json => {
    const [typeAt, subAt] = rp ? [3, 4] : [2, 3];
    const contentType = mimeType(c.c(typeAt), c.c(subAt));
    if (rp) return compact({ contentType, url: c.c(1) || undefined });
    const base64 = c.c(4).toUpperCase() === 'BASE64';
    const data = c.c(5);
    return compact({ contentType, data: data ? (base64 ? data.replace(/\s+/g, '') : Buffer.from(data, 'utf8').toString('base64')) : undefined });
  }).filter((a) => a['data'] || a['url']);
}
