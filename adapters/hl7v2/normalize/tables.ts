/**
 * HL7 v2 tables → FHIR codes, as data. Written from the HL7 v2 tables and the HL7 v2-to-FHIR IG
 * concept maps (not copied from them). Keys are the v2 codes, upper-cased where the table is.
 */

/** Coding system names seen in CWE-3/6 (table 0396 and common local spellings) → FHIR system URI. */
export const CODE_SYSTEMS: Readonly<Record<string, string>> = {
  LN: 'http://loinc.org', LOINC: 'http://loinc.org', PLR: 'http://loinc.org', PLT: 'http://loinc.org',
  SCT: 'http://snomed.info/sct', SNM: 'http://snomed.info/sct', SNM3: 'http://snomed.info/sct', SNOMED: 'http://snomed.info/sct', SCT2: 'http://snomed.info/sct', SNOMEDCT: 'http://snomed.info/sct',
  I10: 'http://hl7.org/fhir/sid/icd-10', ICD10: 'http://hl7.org/fhir/sid/icd-10', 'ICD-10': 'http://hl7.org/fhir/sid/icd-10',
  I10C: 'http://hl7.org/fhir/sid/icd-10-cm', ICD10CM: 'http://hl7.org/fhir/sid/icd-10-cm', 'ICD-10-CM': 'http://hl7.org/fhir/sid/icd-10-cm',
  I10P: 'http://www.cms.gov/Medicare/Coding/ICD10', I9: 'http://hl7.org/fhir/sid/icd-9-cm', I9C: 'http://hl7.org/fhir/sid/icd-9-cm', ICD9: 'http://hl7.org/fhir/sid/icd-9-cm', I9CDX: 'http://hl7.org/fhir/sid/icd-9-cm',
  CIM10: 'http://hl7.org/fhir/sid/icd-10', 'CIM-10': 'http://hl7.org/fhir/sid/icd-10',
  UCUM: 'http://unitsofmeasure.org', ANS: 'http://unitsofmeasure.org', ANSI: 'http://unitsofmeasure.org',
  CVX: 'http://hl7.org/fhir/sid/cvx', MVX: 'http://terminology.hl7.org/CodeSystem/MVX',
  NDC: 'http://hl7.org/fhir/sid/ndc', RXNORM: 'http://www.nlm.nih.gov/research/umls/rxnorm', RXN: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  CPT: 'http://www.ama-assn.org/go/cpt', C4: 'http://www.ama-assn.org/go/cpt', C5: 'http://www.ama-assn.org/go/cpt', HCPCS: 'urn:oid:2.16.840.1.113883.6.285', HCPCT: 'urn:oid:2.16.840.1.113883.6.285',
  NCIT: 'http://ncimeta.nci.nih.gov', NUCCPT: 'http://nucc.org/provider-taxonomy', CDCREC: 'urn:oid:2.16.840.1.113883.6.238',
  UML: 'http://www.nlm.nih.gov/research/umls', UMLS: 'http://www.nlm.nih.gov/research/umls', ISO3166_1: 'urn:iso:std:iso:3166', ISO639: 'urn:ietf:bcp:47',
  ATC: 'http://www.whocc.no/atc', CIP: 'http://hl7.org/fhir/sid/ndc', CCAM: 'https://mos.esante.gouv.fr/NOS/TRE_R38-ActeCCAM/FHIR/TRE-R38-ActeCCAM',
};

/** Table 0001 administrative sex → Patient.gender. */
export const GENDER: Readonly<Record<string, string>> = {
  M: 'male', F: 'female', O: 'other', A: 'other', N: 'other', X: 'other', U: 'unknown',
  MALE: 'male', FEMALE: 'female',
};

/** Table 0004 patient class → Encounter.class (v3 ActCode, or table 0004 where the IG keeps it). */
export const ENCOUNTER_CLASS: Readonly<Record<string, { code: string; display: string; v3: boolean }>> = {
  E: { code: 'EMER', display: 'emergency', v3: true },
  I: { code: 'IMP', display: 'inpatient encounter', v3: true },
  O: { code: 'AMB', display: 'ambulatory', v3: true },
  P: { code: 'PRENC', display: 'pre-admission', v3: true },
  R: { code: 'R', display: 'Recurring patient', v3: false },
  B: { code: 'B', display: 'Obstetrics', v3: false },
  C: { code: 'C', display: 'Commercial Account', v3: false },
  N: { code: 'N', display: 'Not Applicable', v3: false },
  U: { code: 'U', display: 'Unknown', v3: false },
};

/** Table 0004 → Encounter.status when no trigger event decides it (IG PatientClass.EncounterStatus). */
export const ENCOUNTER_STATUS_BY_CLASS: Readonly<Record<string, string>> = {
  E: 'in-progress', I: 'in-progress', O: 'in-progress', P: 'planned', R: 'in-progress', B: 'in-progress',
  C: 'in-progress', N: 'in-progress', U: 'unknown',
};

/** ADT trigger events that fix Encounter.status regardless of PV1 (A03 discharge, A11 cancel admit…). */
export const ENCOUNTER_STATUS_BY_EVENT: Readonly<Record<string, string>> = {
  A01: 'in-progress', A02: 'in-progress', A03: 'finished', A04: 'in-progress', A05: 'planned', A06: 'in-progress',
  A07: 'in-progress', A09: 'in-progress', A10: 'in-progress', A11: 'cancelled', A12: 'in-progress', A13: 'in-progress',
  A14: 'planned', A15: 'in-progress', A16: 'in-progress', A21: 'onleave', A22: 'in-progress', A25: 'in-progress',
  A26: 'in-progress', A27: 'cancelled', A32: 'in-progress', A33: 'in-progress', A38: 'cancelled', A45: 'in-progress',
};

/** Table 0085 OBX-11 → Observation.status (IG ObservationResultStatusCodesInterpretation map). */
export const OBSERVATION_STATUS: Readonly<Record<string, string>> = {
  // I, N, O, R, S, B are left to `unknown`, as the IG concept map leaves them unmapped.
  C: 'corrected', D: 'entered-in-error', F: 'final', P: 'preliminary', U: 'final', V: 'final',
  W: 'entered-in-error', X: 'cancelled', A: 'amended',
};

/** Table 0123 OBR-25 → DiagnosticReport.status. */
export const REPORT_STATUS: Readonly<Record<string, string>> = {
  O: 'registered', I: 'registered', S: 'registered', A: 'partial', P: 'preliminary', C: 'corrected',
  R: 'partial', F: 'final', X: 'cancelled', M: 'amended', N: 'partial',
};

/** Table 0038 ORC-5 order status → request status (wins over ORC-1 when valued). */
export const ORDER_STATUS: Readonly<Record<string, string>> = {
  A: 'active', CA: 'revoked', CM: 'completed', DC: 'revoked', ER: 'entered-in-error', HD: 'on-hold',
  IP: 'active', RP: 'revoked', SC: 'active',
};

/** Table 0119 ORC-1 order control → request status. */
export const ORDER_CONTROL_STATUS: Readonly<Record<string, string>> = {
  AF: 'active', CA: 'active', CR: 'revoked', DC: 'revoked', DF: 'revoked', DR: 'revoked', FU: 'completed',
  HD: 'active', HR: 'on-hold', NW: 'active', OC: 'revoked', OD: 'revoked', OH: 'on-hold', OK: 'active',
  PR: 'active', PY: 'active', RL: 'active', RO: 'active', RQ: 'active', XO: 'active', SC: 'active', SN: 'active',
};

/** Table 0278 filler status (SCH-25 / AIS-13) → Appointment.status. */
export const APPOINTMENT_STATUS: Readonly<Record<string, string>> = {
  PENDING: 'pending', WAITLIST: 'waitlist', BOOKED: 'booked', STARTED: 'checked-in', COMPLETE: 'fulfilled',
  CANCELLED: 'cancelled', DC: 'cancelled', DISCONTINUED: 'cancelled', DELETED: 'entered-in-error',
  NOSHOW: 'noshow', BLOCKED: 'booked', OVERBOOK: 'booked',
};

/** SIU trigger → Appointment.status when SCH-25 is empty (S15 cancel, S17 delete, S26 no-show…). */
export const APPOINTMENT_STATUS_BY_EVENT: Readonly<Record<string, string>> = {
  S12: 'booked', S13: 'booked', S14: 'booked', S15: 'cancelled', S16: 'cancelled', S17: 'entered-in-error', S26: 'noshow',
};

/** Table 0322 RXA-20 completion status → Immunization.status. */
export const IMMUNIZATION_STATUS: Readonly<Record<string, string>> = {
  CP: 'completed', PA: 'completed', RE: 'not-done', NA: 'not-done',
};

/** Table 0002 marital status → v3 MaritalStatus code. */
export const MARITAL_STATUS: Readonly<Record<string, { code: string; display: string; system?: string }>> = {
  A: { code: 'L', display: 'Legally Separated' }, B: { code: 'U', display: 'unmarried' }, C: { code: 'C', display: 'Common Law' },
  D: { code: 'D', display: 'Divorced' }, E: { code: 'L', display: 'Legally Separated' }, G: { code: 'T', display: 'Domestic partner' },
  I: { code: 'I', display: 'Interlocutory' }, M: { code: 'M', display: 'Married' }, N: { code: 'A', display: 'Annulled' },
  P: { code: 'T', display: 'Domestic partner' }, R: { code: 'T', display: 'Domestic partner' }, S: { code: 'S', display: 'Never Married' },
  W: { code: 'W', display: 'Widowed' },
  T: { code: 'UNK', display: 'unknown', system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor' },
  U: { code: 'UNK', display: 'unknown', system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor' },
  O: { code: 'OTH', display: 'other', system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor' },
};

/** Table 0200 name type → HumanName.use. */
export const NAME_USE: Readonly<Record<string, string>> = {
  L: 'official', D: 'usual', M: 'maiden', N: 'nickname', A: 'anonymous', C: 'old', B: 'official', S: 'anonymous',
  T: 'temp', U: 'temp', R: 'official', P: 'official', BAD: 'old', NAV: 'temp',
};

/** Table 0190 address type → Address.use / Address.type. */
export const ADDRESS_TYPE: Readonly<Record<string, { use?: string; type?: string }>> = {
  H: { use: 'home' }, B: { use: 'work' }, O: { use: 'work' }, C: { use: 'temp' }, BA: { use: 'old' },
  BI: { use: 'billing' }, M: { type: 'postal' }, SH: { type: 'postal' }, P: { use: 'home' }, L: { use: 'home' },
  V: { use: 'temp' }, TMP: { use: 'temp' },
};

/** Table 0201 telecom use → ContactPoint.use (and a system override for NET). */
export const TELECOM_USE: Readonly<Record<string, { use?: string; system?: string }>> = {
  PRN: { use: 'home' }, ORN: { use: 'home' }, VHN: { use: 'home' }, WPN: { use: 'work' }, BPN: { use: 'work', system: 'pager' },
  PRS: { use: 'mobile' }, EMR: { use: 'home' }, ASN: { use: 'work' }, NET: { system: 'email' },
};

/** Table 0202 telecom equipment type → ContactPoint.system (and mobile use for CP). */
export const TELECOM_EQUIPMENT: Readonly<Record<string, { system: string; use?: string }>> = {
  PH: { system: 'phone' }, FX: { system: 'fax' }, MD: { system: 'other' }, CP: { system: 'phone', use: 'mobile' },
  SAT: { system: 'other' }, BP: { system: 'pager' }, INTERNET: { system: 'email' }, 'X.400': { system: 'email' },
  TDD: { system: 'other' }, TTY: { system: 'other' },
};

/** Table 0127 allergen type → AllergyIntolerance.category and type. */
export const ALLERGY_TYPE: Readonly<Record<string, { category?: string; type: string }>> = {
  DA: { category: 'medication', type: 'allergy' }, FA: { category: 'food', type: 'allergy' },
  MA: { type: 'allergy' }, MC: { category: 'medication', type: 'allergy' }, EA: { category: 'environment', type: 'allergy' },
  AA: { category: 'environment', type: 'allergy' }, PA: { category: 'environment', type: 'allergy' },
  LA: { category: 'environment', type: 'allergy' }, DI: { category: 'medication', type: 'intolerance' },
  FI: { category: 'food', type: 'intolerance' }, MI: { type: 'intolerance' },
};

/** Table 0128 allergy severity → criticality and reaction severity. */
export const ALLERGY_SEVERITY: Readonly<Record<string, { criticality: string; severity?: string }>> = {
  SV: { criticality: 'high', severity: 'severe' }, MO: { criticality: 'low', severity: 'moderate' },
  MI: { criticality: 'low', severity: 'mild' }, U: { criticality: 'unable-to-assess' },
};

/** PV1 doctor fields → Encounter.participant.type (v3 ParticipationType). */
export const PV1_PARTICIPANTS: ReadonlyArray<{ field: number; code: string; display: string }> = [
  { field: 7, code: 'ATND', display: 'attender' }, { field: 8, code: 'REF', display: 'referrer' },
  { field: 9, code: 'CON', display: 'consultant' }, { field: 17, code: 'ADM', display: 'admitter' },
];

/** Table 0136 yes/no. */
export const YES_NO: Readonly<Record<string, boolean>> = { Y: true, N: false };
