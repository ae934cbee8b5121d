import type { FhirResource, Identifier } from '../../../gateway/core/types.js';
import type { Builder } from './context.js';
import { localRef } from './context.js';
import { compact, cweTable, datePeriod, hdSystem, num, tableCode, xad, xpn, xtn, type Json } from './datatypes.js';
import { toDate, toDateTime } from './datetime.js';
import { allIn, firstIn, patientGroups, type PatientGroup } from './groups.js';
import { patientMatchKeys } from './identity.js';
import { selfFacts } from './patient-self.js';
import type { Comp, SegReader } from './reader.js';
import { GENDER, MARITAL_STATUS, YES_NO } from './tables.js';

/** localRef of the Patient every other record points to. */
export const PATIENT_REF = 'patient';

const RACE_URL = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';
const ETHNICITY_URL = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity';

/**
 * PID (+ PD1, NK1) → Patient. The record's `identifiers` are the PID-3 list (PID-2/PID-4 only
 * when PID-3 is empty, as in old v2.2 feeds); its `matchKeys`, what the store matches on, are the
 * PID-3 identifiers the feed's trust rules accept (identity.ts).
 * @returns the Patient localRef, or undefined when the message has no PID
 */
export function mapPatient(b: Builder, g: PatientGroup = patientGroups(b)[0]!): string | undefined {
  const pid = firstIn(g, 'PID');
  if (!pid) {
    b.issue('error', 'required', 'PID', 'PID segment is required to identify the patient');
    return undefined;
  }
  pid.consume(1);
  const matchIds = pid.all(3).map((c) => b.cx(c)).filter((x) => x !== undefined);
  const otherIds = [...pid.all(2), ...pid.all(4)].map((c) => b.cx(c)).filter((x) => x !== undefined);
  const extraIds: Json[] = [];
  const ssn = pid.get(19);
  if (ssn) extraIds.push({ system: 'http://hl7.org/fhir/sid/us-ssn', value: ssn, type: tableCode('SS', '0203') });
  const dl = pid.comp(20);
  if (dl.c(1)) extraIds.push(compact({ system: hdSystem(dl.c(2), '', '') ?? b.fallbackSystem('DL'), value: dl.c(1), type: tableCode('DL', '0203'), period: datePeriod('', dl.c(3)) }));
  if (matchIds.length === 0 && otherIds.length === 0) {
    b.issue('warning', 'required', pid.where(3), 'PID-3 patient identifier list has no identifier with a value; the patient cannot be matched across messages');
  }

  const self = selfFacts(b, g.segs);
  const resource: FhirResource = compact({
    resourceType: 'Patient',
    identifier: dedupe([...matchIds, ...otherIds, ...extraIds, ...self.identifiers]),
    // PID-9 alias names are the patient's names too (IG: PID-9 → Patient.name).
    name: [...pid.all(5), ...pid.all(9)].map(xpn).filter(Boolean).concat(self.names),
    gender: gender(b, pid),
    ...birth(b, pid),
    address: [...pid.all(11).map(xad).filter(Boolean), ...self.addresses],
    telecom: [
      ...pid.all(13).map((c) => withDefaultUse(xtn(c), 'home')),
      ...pid.all(14).map((c) => withDefaultUse(xtn(c), 'work')),
    ].filter(Boolean),
    communication: pid.all(15).map((c) => cweTable(c, '0296')).filter(Boolean).map((language) => ({ language, preferred: true })),
    maritalStatus: marital(pid),
    ...deceased(b, pid),
    ...multipleBirth(pid),
    extension: extensions(pid),
    generalPractitioner: generalPractitioners(b, g),
    contact: allIn(g, 'NK1').map(contact).filter(Boolean),
  });
  const ids = matchIds.length ? matchIds : otherIds;
  // Without any identifier, MSH-10 still lets a re-sent message version the same Patient.
  const identifiers: Identifier[] = ids.length ? ids.map(({ system, value }) => ({ system, value })) : [b.messageIdentifier(g.patientRef)];
  const sources = [pid, ...allIn(g, 'PD1'), ...allIn(g, 'NK1'), ...self.sources];
  // Only trusted PID-3 identifiers match (identity.ts): an SSN or a second MRN without authority
  // shared by two people must not merge them.
  const matchKeys = patientMatchKeys(pid.all(3), b.identity);
  return b.add({ localRef: g.patientRef, resource, location: pid.loc, identifiers, matchKeys, sources });
}

/** One identifier per system|value: GT1 and IN2 often repeat PID-3. */
function dedupe(ids: Json[]): Json[] {
  const seen = new Set<string>();
  return ids.filter((i) => {
    const k = `${String(i['system'])}|${String(i['value'])}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function gender(b: Builder, pid: SegReader): string | undefined {
  const v = pid.get(8).toUpperCase();
  if (!v) return undefined;
  const g = GENDER[v];
  if (!g) b.issue('warning', 'code-invalid', pid.where(8), 'PID-8 is not a code of HL7 table 0001; gender left empty');
  return g;
}

function birth(b: Builder, pid: SegReader): Json {
  const v = pid.get(7);
  if (!v) return {};
  const date = toDate(v);
  if (!date) {
    b.issue('warning', 'value', pid.where(7), 'PID-7 is not a valid HL7 DTM; birth date left empty');
    return {};
  }
  const time = toDateTime(v);
  // A birth time is kept in the standard extension rather than lost to the date-only element.
  if (time && time.includes('T')) {
    return { birthDate: date, _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: time }] } };
  }
  return { birthDate: date };
}

function deceased(b: Builder, pid: SegReader): Json {
  const when = pid.get(29);
  if (when) {
    const dt = toDateTime(when);
    if (dt) return { deceasedDateTime: dt };
    b.issue('warning', 'value', pid.where(29), 'PID-29 is not a valid HL7 DTM');
  }
  const flag = YES_NO[pid.get(30).toUpperCase()];
  return flag === undefined ? {} : { deceasedBoolean: flag };
}

function multipleBirth(pid: SegReader): Json {
  const order = num(pid.get(25));
  if (order !== undefined && Number.isInteger(order)) return { multipleBirthInteger: order };
  const flag = YES_NO[pid.get(24).toUpperCase()];
  return flag === undefined ? {} : { multipleBirthBoolean: flag };
}

function marital(pid: SegReader): Json | undefined {
  const c = pid.comp(16);
  const code = c.c(1).toUpperCase();
  if (!code) return undefined;
  const m = MARITAL_STATUS[code];
  const original = compact({ system: 'http://terminology.hl7.org/CodeSystem/v2-0002', code: c.c(1), display: c.c(2) });
  if (!m) return { coding: [original] };
  return { coding: [{ system: m.system ?? 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: m.code, display: m.display }, original] };
}

function withDefaultUse(cp: Json | undefined, use: string): Json | undefined {
  if (!cp) return undefined;
  return cp['use'] ? cp : { ...cp, use };
}

function extensions(pid: SegReader): Json[] {
  const out: Json[] = [];
  const race = usCore(RACE_URL, pid.all(10));
  if (race) out.push(race);
  const ethnicity = usCore(ETHNICITY_URL, pid.all(22));
  if (ethnicity) out.push(ethnicity);
  const mmn = pid.all(6).map(xpn).find(Boolean);
  if (mmn?.['family']) out.push({ url: 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName', valueString: mmn['family'] });
  const religion = cweTable(pid.comp(17), '0006');
  if (religion) out.push({ url: 'http://hl7.org/fhir/StructureDefinition/patient-religion', valueCodeableConcept: religion });
  const birthPlace = pid.get(23);
  if (birthPlace) out.push({ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { text: birthPlace } });
  return out;
}

const CDCREC = 'urn:oid:2.16.840.1.113883.6.238';
const CDC_CODE = /^\d{4}-\d$/;

/**
 * PID-10 / PID-22 → US Core race / ethnicity extension. Only CDC race-and-ethnicity codes (the
 * `2106-3` form, whether sent as CDCREC or as table 0005/0189) may fill `ombCategory`; other
 * codes are kept as the extension's text so they are not lost nor mislabelled.
 */
function usCore(url: string, reps: Comp[]): Json | undefined {
  const parts: Json[] = [];
  const texts: string[] = [];
  for (const c of reps) {
    const code = c.c(1);
    if (CDC_CODE.test(code)) parts.push({ url: 'ombCategory', valueCoding: compact({ system: CDCREC, code, display: c.c(2) }) });
    const t = c.c(2) || c.c(9) || (CDC_CODE.test(code) ? '' : code);
    if (t) texts.push(t);
  }
  if (parts.length === 0 && texts.length === 0) return undefined;
  return { url, extension: [...parts, ...(texts.length ? [{ url: 'text', valueString: texts.join(', ') }] : [])] };
}

function generalPractitioners(b: Builder, g: PatientGroup): Json[] {
  const pd1 = firstIn(g, 'PD1');
  if (!pd1) return [];
  const orgs = pd1.all(3).map((c) => c.c(1)).filter(Boolean).map((display) => ({ display }));
  const docs = pd1.all(4).map((c) => b.practitioner(c, pd1)).filter((x): x is Json => x !== undefined);
  return [...orgs, ...docs];
}

/** NK1 → Patient.contact (kept inside the Patient: a next of kin rarely has identifiers to match on). */
function contact(nk1: SegReader): Json | undefined {
  nk1.consume(1);
  const relationship = [cweTable(nk1.comp(3), '0063'), cweTable(nk1.comp(7), '0131')].filter(Boolean);
  const c = compact({
    name: nk1.all(2).map(xpn).find(Boolean),
    relationship,
    address: nk1.all(4).map(xad).find(Boolean),
    telecom: [...nk1.all(5).map((x) => withDefaultUse(xtn(x), 'home')), ...nk1.all(6).map((x) => withDefaultUse(xtn(x), 'work'))].filter(Boolean),
    gender: GENDER[nk1.get(15).toUpperCase()],
    period: datePeriod(nk1.get(8), nk1.get(9)),
    organization: nk1.get(13) ? { display: nk1.get(13) } : undefined,
  });
  return Object.keys(c).length ? c : undefined;
}

/**
 * MRG (A40 merge, A47 identifier change) → `replaces` link on the surviving Patient and a second
 * Patient record for the prior identifiers, inactive and `replaced-by` the survivor, so the store
 * versions the old Patient instead of leaving it looking current.
 */
export function mapMerge(b: Builder, g: PatientGroup): void {
  const patientRef = g.patientRef;
  const mrg = firstIn(g, 'MRG');
  if (!mrg) {
    b.issue('error', 'required', 'MRG', 'MRG segment is required for a merge or identifier change');
    return;
  }
  const prior = [...mrg.all(1), ...mrg.all(4)].map((c) => b.cx(c)).filter((x) => x !== undefined);
  if (prior.length === 0) {
    b.issue('error', 'required', mrg.where(1), 'MRG-1 prior patient identifier list has no identifier with a value');
    return;
  }
  const old = b.add({
    localRef: `${patientRef}-prior`,
    resource: compact({
      resourceType: 'Patient',
      identifier: prior,
      active: false,
      name: mrg.all(7).map(xpn).filter(Boolean),
      link: [{ other: localRef(patientRef), type: 'replaced-by' }],
    }),
    location: mrg.loc,
    identifiers: prior.map(({ system, value }) => ({ system, value })),
    // MRG-1 under the same trust rules as PID-3; MRG-3/MRG-4 (account) never identify the person.
    matchKeys: patientMatchKeys(mrg.all(1), b.identity),
    sources: [mrg],
  });
  const survivor = b.drafts.find((d) => d.localRef === patientRef);
  // By identifier, not local reference: the prior record already points at the survivor, and a
  // reference cycle could not be resolved by a worker that stores records in order.
  if (survivor && old) survivor.resource['link'] = [{ other: { identifier: prior[0] }, type: 'replaces' }];
}
