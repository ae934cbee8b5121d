import { toDate, toDateTime } from './datetime.js';
import type { Comp } from './reader.js';
import { ADDRESS_TYPE, CODE_SYSTEMS, NAME_USE, TELECOM_EQUIPMENT, TELECOM_USE } from './tables.js';

/** Plain FHIR JSON fragments (the canonical model stores resources as JSON). */
export type Json = Record<string, unknown>;

/** FHIR CodeableConcept as built here. */
export type CodeableConcept = Json & { coding?: Json[]; text?: string };

/** Drop undefined / empty members so resources carry no `"x": undefined` or `[]`. */
export function compact<T extends Json>(o: T): T {
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0) || (isPlain(v) && Object.keys(v).length === 0)) delete o[k];
  }
  return o;
}

function isPlain(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** URI-safe token for the deterministic `urn:passerelle:…` systems built below. */
export function token(s: string): string {
  return encodeURIComponent(s.trim()).replace(/%20/g, '-') || 'unknown';
}

const OID = /^[0-2](\.(0|[1-9]\d*))+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Identifier system from an HD (namespace, universal id, universal id type). An OID or UUID
 * universal id wins because it is globally unique; a URI is used as is; a bare namespace id
 * becomes `urn:passerelle:aa:<namespace>` so it is stable across messages from any sender.
 * @returns undefined when the HD is empty
 */
export function hdSystem(ns: string, uid: string, uidType: string): string | undefined {
  if (uid) {
    if (OID.test(uid)) return `urn:oid:${uid}`;
    if (UUID.test(uid)) return `urn:uuid:${uid.toLowerCase()}`;
    if (/^(https?|urn):/i.test(uid) || uidType.toUpperCase() === 'URI') return uid;
  }
  if (ns) return `urn:passerelle:aa:${token(ns)}`;
  if (uid) return `urn:passerelle:aa:${token(uid)}`;
  return undefined;
}

/**
 * FHIR system for a CWE coding system name: well-known names, HL7 tables (`HL70078` →
 * v2-0078), OIDs, else a deterministic local system so the original coding is never dropped.
 */
export function codeSystem(name: string): string | undefined {
  const n = name.trim();
  if (!n) return undefined;
  const known = CODE_SYSTEMS[n.toUpperCase()];
  if (known) return known;
  const table = /^HL7[_-]?(\d{4})$/i.exec(n) ?? /^(\d{4})$/.exec(n);
  if (table) return `http://terminology.hl7.org/CodeSystem/v2-${table[1]}`;
  if (OID.test(n)) return `urn:oid:${n}`;
  if (/^(https?|urn):/i.test(n)) return n;
  return `urn:passerelle:cs:${token(n)}`;
}

/** One FHIR Coding; undefined without a code. */
export function coding(code: string, display: string, systemName: string, version = ''): Json | undefined {
  if (!code) return undefined;
  return compact({ system: codeSystem(systemName), version, code, display });
}

/**
 * CWE / CE / CNE → CodeableConcept with the primary and the alternate coding (CWE-1..3, 4..6,
 * versions in 7/8) and CWE-9 original text. Text only (no code) keeps the text.
 */
export function cwe(c: Comp): CodeableConcept | undefined {
  if (!c.valued) return undefined;
  const codings = [coding(c.c(1), c.c(2), c.c(3), c.c(7)), coding(c.c(4), c.c(5), c.c(6), c.c(8))].filter((x): x is Json => x !== undefined);
  const text = c.c(9) || (codings.length === 0 ? c.c(2) || c.c(5) : '');
  if (codings.length === 0 && !text) return undefined;
  return compact({ coding: codings, text });
}

/**
 * CWE bound to an HL7 table: a primary code sent without a coding system (CWE-3 empty) is read as
 * a code of that table, as the field's definition says; an explicit system is kept as sent.
 */
export function cweTable(c: Comp, table: string): CodeableConcept | undefined {
  const cc = cwe(c);
  const primary = cc?.coding?.[0];
  if (primary && !c.c(3) && primary['code'] === c.c(1)) {
    cc!.coding![0] = { system: `http://terminology.hl7.org/CodeSystem/v2-${table}`, ...primary };
  }
  return cc;
}

/** A CodeableConcept from a bare code of an HL7 table (IS / ID datatypes). */
export function tableCode(code: string, table: string, display = ''): CodeableConcept | undefined {
  if (!code) return undefined;
  return { coding: [compact({ system: `http://terminology.hl7.org/CodeSystem/v2-${table}`, code, display })] };
}

const NM = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** HL7 NM → number; undefined when not a plain decimal (no exponent, per v2.5.1 §2A.3.47). */
export function num(v: string): number | undefined {
  const t = v.trim();
  if (!NM.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** Quantity from a value and CWE units (code, text, system → UCUM URI when the system is UCUM). */
export function quantity(value: number, units: Comp | undefined): Json {
  if (!units?.valued) return { value };
  const code = units.c(1);
  return compact({ value, unit: units.c(2) || code, system: codeSystem(units.c(3)), code });
}

/** FHIR Period from two DTMs. */
export function period(start: string, end: string): Json | undefined {
  const p = compact({ start: toDateTime(start), end: toDateTime(end) });
  return Object.keys(p).length ? p : undefined;
}

/** Date-only Period (DR of DT values, e.g. CX-7/8). */
export function datePeriod(start: string, end: string): Json | undefined {
  const p = compact({ start: toDate(start), end: toDate(end) });
  return Object.keys(p).length ? p : undefined;
}

/**
 * XPN → HumanName. XPN-1.1 family, 2 and 3 given, 4 suffix, 5 prefix, 6 degree (as suffix),
 * 7 name type → use, 10 or 12/13 validity.
 */
export function xpn(c: Comp): Json | undefined {
  if (!c.valued) return undefined;
  const family = c.c(1, 1);
  const given = [c.c(2), ...c.c(3).split(' ')].filter(Boolean);
  const name = compact({
    use: NAME_USE[c.c(7).toUpperCase()],
    family,
    given,
    prefix: c.c(5) ? [c.c(5)] : undefined,
    suffix: [c.c(4), c.c(6)].filter(Boolean),
    period: datePeriod(c.c(12) || c.c(10, 1), c.c(13) || c.c(10, 2)),
  });
  return name.family || name.given ? name : undefined;
}

/**
 * XAD → Address. Street subcomponents (SAD) and XAD-2 become lines; 3 city, 4 state, 5 postal
 * code, 6 country, 7 type → use/type, 9 county → district, 12 or 13/14 validity.
 */
export function xad(c: Comp): Json | undefined {
  if (!c.valued) return undefined;
  const line = [c.c(1, 1), c.c(1, 2), c.c(1, 3), c.c(2)].filter(Boolean);
  const t = ADDRESS_TYPE[c.c(7).toUpperCase()];
  const a = compact({
    use: t?.use,
    type: t?.type,
    line,
    city: c.c(3),
    district: c.c(9),
    state: c.c(4),
    postalCode: c.c(5),
    country: c.c(6),
    period: datePeriod(c.c(13) || c.c(12, 1), c.c(14) || c.c(12, 2)),
  });
  return a.line || a.city || a.state || a.postalCode || a.country ? a : undefined;
}

/**
 * XTN → ContactPoint. XTN-4 for e-mail, else XTN-12 (unformatted), else country/area/local/
 * extension parts, else the deprecated XTN-1 text. XTN-2 use, XTN-3 equipment → system.
 */
export function xtn(c: Comp): Json | undefined {
  if (!c.valued) return undefined;
  const useCode = c.c(2).toUpperCase();
  const equip = TELECOM_EQUIPMENT[c.c(3).toUpperCase()];
  const useMap = TELECOM_USE[useCode];
  const system = equip?.system ?? useMap?.system ?? (c.c(4) && !c.c(1) && !c.c(7) ? 'email' : 'phone');
  let value: string;
  if (system === 'email') value = c.c(4) || c.c(1);
  else {
    const parts = [c.c(5) ? `+${c.c(5)}` : '', c.c(6) ? `(${c.c(6)})` : '', c.c(7)].filter(Boolean).join(' ');
    value = c.c(12) || (c.c(7) ? parts + (c.c(8) ? ` ext. ${c.c(8)}` : '') : '') || c.c(1);
  }
  if (!value) return undefined;
  return compact({
    system,
    value,
    use: useMap?.use ?? equip?.use,
    rank: num(c.c(18)),
    period: datePeriod(c.c(13), c.c(14)),
  });
}

/** Display name of an XCN/XPN-like comp starting at `first` (family at first, given next). */
export function personDisplay(c: Comp, first: number): string {
  return [c.c(first + 5), c.c(first + 1), c.c(first + 2), c.c(first, 1), c.c(first + 3)].filter(Boolean).join(' ');
}

/** Table 0191 type of referenced data → MIME top-level type. */
const MIME_TOP: Readonly<Record<string, string>> = {
  AP: 'application', APPLICATION: 'application', NS: 'application', IM: 'image', IMAGE: 'image', AU: 'audio', AUDIO: 'audio',
  TEXT: 'text', TX: 'text', TEXTUAL: 'text', VIDEO: 'video', MULTIPART: 'multipart', SD: 'application', SI: 'application',
};

/**
 * MIME type from an ED/RP type of data (table 0191, or a MIME top-level type) and subtype,
 * e.g. `IM` + `JPEG` → `image/jpeg`; undefined when either part is missing or unknown.
 */
export function mimeType(type: string, subtype: string): string | undefined {
  const top = MIME_TOP[type.trim().toUpperCase()];
  const sub = subtype.trim().toLowerCase();
  return top && /^[a-z0-9][a-z0-9!#$&^_.+-]*$/.test(sub) ? `${top}/${sub}` : undefined;
}
