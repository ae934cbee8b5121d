/**
 * HL7 v2 DTM / TS / DT → FHIR date or dateTime, keeping the precision and the UTC offset that
 * were sent (v2.5.1 §2A.3.22). Nothing is converted to another zone: re-deriving an instant is
 * the consumer's job, inventing a zone would be ours to get wrong.
 */

// YYYY[MM[DD[HH[MM[SS[.S{1,4}]]]]]][+/-ZZZZ]
const DTM = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?([+-]\d{4})?$/;

/** Parsed parts of a DTM, or undefined when the text is not a valid DTM. */
interface DtmParts {
  y: string; mo?: string; d?: string; h?: string; mi?: string; s?: string; frac?: string; tz?: string;
}

function parts(v: string): DtmParts | undefined {
  const m = DTM.exec(v);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  if (mo !== undefined && (+mo < 1 || +mo > 12)) return undefined;
  if (d !== undefined && (+d < 1 || +d > daysIn(+y!, +mo!))) return undefined;
  if (h !== undefined && +h > 23) return undefined;
  if (mi !== undefined && +mi > 59) return undefined;
  if (s !== undefined && +s > 59) return undefined;
  if (tz !== undefined && (+tz.slice(1, 3) > 14 || +tz.slice(3) > 59)) return undefined;
  return { y: y!, mo, d, h, mi, s, frac, tz };
}

function daysIn(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

function offset(tz: string | undefined): string {
  if (tz === undefined) return '';
  return tz === '+0000' || tz === '-0000' ? 'Z' : `${tz.slice(0, 3)}:${tz.slice(3)}`;
}

/**
 * FHIR dateTime from an HL7 DTM: `2014`, `2014-10`, `2014-10-06`, `2014-10-06T09:29:00+07:00`.
 * Minutes without seconds get `:00` (FHIR needs seconds once a time is given). A time sent without
 * an offset stays without one: the sender's local time is all we know. Undefined when invalid.
 * @param v - the DTM text (already unescaped)
 */
export function toDateTime(v: string): string | undefined {
  const p = parts(v.trim());
  if (!p) return undefined;
  let out = p.y;
  if (p.mo === undefined) return out;
  out += `-${p.mo}`;
  if (p.d === undefined) return out;
  out += `-${p.d}`;
  // An hour without minutes cannot be written as a FHIR time; keep the day rather than invent minutes.
  if (p.h === undefined || p.mi === undefined) return out;
  out += `T${p.h}:${p.mi}:${p.s ?? '00'}`;
  if (p.frac !== undefined) out += `.${p.frac}`;
  return out + offset(p.tz);
}

/**
 * FHIR date (day precision at most) from a DT or DTM; a time part is dropped on purpose because
 * the FHIR element is a date (e.g. Patient.birthDate).
 * @param v - the DT/DTM text
 */
export function toDate(v: string): string | undefined {
  const p = parts(v.trim());
  if (!p) return undefined;
  return [p.y, p.mo, p.d].filter((x) => x !== undefined).join('-');
}

/**
 * FHIR instant from a DTM with at least minutes and an offset (seconds default to `:00`, which
 * states no more than the sender did); undefined otherwise, since an instant must be unambiguous.
 * @param v - the DTM text
 */
export function toInstant(v: string): string | undefined {
  const p = parts(v.trim());
  if (!p || p.mi === undefined || p.tz === undefined) return undefined;
  return toDateTime(v);
}
