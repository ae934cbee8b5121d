import type { FhirResource, Identifier } from '../../../gateway/core/types.js';
import { localRef, type Builder } from './context.js';
import { compact, cwe, cweTable, period, tableCode, type Json } from './datatypes.js';
import { toDate, toDateTime } from './datetime.js';
import type { SegReader } from './reader.js';
import { ALLERGY_SEVERITY, ALLERGY_TYPE } from './tables.js';

/** Where the clinical records of a message hang: the patient and, when there is one, the visit. */
export interface Subject {
  patientRef: string | undefined;
  encounterRef?: string | undefined;
  /** The segments of this patient's group, when the message repeats the patient group. */
  segs?: readonly SegReader[];
}

/** Segments with this ID within the subject's group (the whole message by default). */
export function scoped(b: Builder, s: Subject, name: string): SegReader[] {
  return (s.segs ?? b.r.segments).filter((x) => x.name === name);
}

const CONDITION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/condition-category';
const CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const VERIFICATION = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';

function subjectFields(s: Subject): Json {
  return compact({
    subject: s.patientRef ? localRef(s.patientRef) : undefined,
    encounter: s.encounterRef ? localRef(s.encounterRef) : undefined,
  });
}

/** Identifiers for the store: the business ones when given, else MSH-10 + place in the message. */
function ids(b: Builder, given: Array<Identifier | undefined>, ref: string): Identifier[] {
  const out = given.filter((x): x is Identifier => x !== undefined).map(({ system, value }) => ({ system, value }));
  return out.length ? out : [b.messageIdentifier(ref)];
}

function setId(seg: SegReader): string {
  return seg.get(1) || String(seg.occurrence);
}

function dateTime(b: Builder, seg: SegReader, field: number): string | undefined {
  const v = seg.get(field);
  if (!v) return undefined;
  const dt = toDateTime(v);
  if (!dt) b.issue('warning', 'value', seg.where(field), `${seg.where(field)} is not a valid HL7 DTM; left empty`);
  return dt;
}

/** DG1 → Condition (category encounter-diagnosis), one per segment. */
export function mapDiagnoses(b: Builder, s: Subject): void {
  for (const dg1 of scoped(b, s, 'DG1')) {
    const ref = `condition-dg1-${setId(dg1)}`;
    const code = cwe(dg1.comp(3)) ?? (dg1.get(4) ? { text: dg1.get(4) } : undefined);
    if (!code) b.issue('warning', 'required', dg1.where(3), 'DG1-3 diagnosis code is empty');
    const identifier = b.ei(dg1.comp(20), 'diagnosis');
    const deleted = dg1.get(21).toUpperCase() === 'D';
    const resource: FhirResource = compact({
      resourceType: 'Condition',
      identifier: identifier ? [identifier] : undefined,
      verificationStatus: deleted ? { coding: [{ system: VERIFICATION, code: 'entered-in-error' }] } : undefined,
      category: [{ coding: [{ system: CONDITION_CATEGORY, code: 'encounter-diagnosis', display: 'Encounter Diagnosis' }] }],
      code,
      ...subjectFields(s),
      onsetDateTime: dateTime(b, dg1, 5),
      recordedDate: dateTime(b, dg1, 19),
      asserter: dg1.all(16).map((c) => b.practitioner(c, dg1)).find(Boolean),
      note: dg1.get(4) && code?.coding ? [{ text: dg1.get(4) }] : undefined,
    });
    b.add({ localRef: ref, resource, location: dg1.loc, identifiers: ids(b, [identifier], ref), ...patient(s), sources: [dg1] });
  }
}

/** PRB (PPR^PC1–PC3) → Condition (category problem-list-item). */
export function mapProblems(b: Builder, s: Subject): void {
  for (const prb of scoped(b, s, 'PRB')) {
    const ref = `condition-prb-${prb.occurrence}`;
    const identifier = b.ei(prb.comp(4), 'problem');
    const action = prb.get(1).toUpperCase();
    const clinical = prb.get(9) ? undefined : prb.get(14) ? 'active' : undefined;
    const resource: FhirResource = compact({
      resourceType: 'Condition',
      identifier: identifier ? [identifier] : undefined,
      clinicalStatus: clinical ? { coding: [{ system: CLINICAL, code: clinical }] } : prb.get(9) ? { coding: [{ system: CLINICAL, code: 'resolved' }] } : undefined,
      verificationStatus: action === 'DE' ? { coding: [{ system: VERIFICATION, code: 'entered-in-error' }] } : undefined,
      category: [{ coding: [{ system: CONDITION_CATEGORY, code: 'problem-list-item', display: 'Problem List Item' }] }],
      code: cwe(prb.comp(3)),
      ...subjectFields(s),
      recordedDate: dateTime(b, prb, 2),
      abatementDateTime: dateTime(b, prb, 9),
      onsetDateTime: dateTime(b, prb, 16),
    });
    if (!resource['code']) b.issue('warning', 'required', prb.where(3), 'PRB-3 problem code is empty');
    b.add({ localRef: ref, resource, location: prb.loc, identifiers: ids(b, [identifier], ref), ...patient(s), sources: [prb] });
  }
}

/** AL1 and IAM (A60) → AllergyIntolerance. */
export function mapAllergies(b: Builder, s: Subject): void {
  for (const seg of [...scoped(b, s, 'AL1'), ...scoped(b, s, 'IAM')]) {
    const iam = seg.name === 'IAM';
    const ref = `allergy-${seg.name.toLowerCase()}-${setId(seg)}`;
    const type = ALLERGY_TYPE[seg.get(2).toUpperCase()];
    const severity = ALLERGY_SEVERITY[seg.get(4).toUpperCase()];
    const identifier = iam ? b.ei(seg.comp(7), 'allergy') : undefined;
    const deleted = iam && seg.get(6).toUpperCase() === 'D';
    const reactions = seg.all(5).map((c) => c.c(1)).filter(Boolean);
    const resource: FhirResource = compact({
      resourceType: 'AllergyIntolerance',
      identifier: identifier ? [identifier] : undefined,
      clinicalStatus: deleted ? undefined : { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
      verificationStatus: deleted ? { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', code: 'entered-in-error' }] } : undefined,
      type: type?.type,
      category: type?.category ? [type.category] : undefined,
      criticality: severity?.criticality,
      code: cwe(seg.comp(3)),
      patient: s.patientRef ? localRef(s.patientRef) : undefined,
      onsetDateTime: iam ? toDate(seg.get(11)) : toDateTime(seg.get(6)),
      recordedDate: iam ? dateTime(b, seg, 13) : undefined,
      reaction: reactions.length
        ? [compact({ manifestation: reactions.map((text) => ({ text })), severity: severity?.severity })]
        : undefined,
    });
    if (!resource['code']) b.issue('warning', 'required', seg.where(3), `${seg.name}-3 allergen code is empty`);
    b.add({ localRef: ref, resource, location: seg.loc, identifiers: ids(b, [identifier], ref), ...patient(s), sources: [seg] });
  }
}

/** PR1 → Procedure (status completed: PR1 reports procedures performed). */
export function mapProcedures(b: Builder, s: Subject): void {
  for (const pr1 of scoped(b, s, 'PR1')) {
    const ref = `procedure-${setId(pr1)}`;
    const identifier = b.ei(pr1.comp(19), 'procedure');
    const performers = [...pr1.all(8), ...pr1.all(11), ...pr1.all(12)].map((c) => b.practitioner(c, pr1)).filter((x): x is Json => x !== undefined);
    const resource: FhirResource = compact({
      resourceType: 'Procedure',
      identifier: identifier ? [identifier] : undefined,
      status: 'completed',
      code: cwe(pr1.comp(3)) ?? (pr1.get(4) ? { text: pr1.get(4) } : undefined),
      category: tableCode(pr1.get(6), '0230'),
      ...subjectFields(s),
      performedDateTime: dateTime(b, pr1, 5),
      performer: performers.map((actor) => ({ actor })),
      reasonCode: [cwe(pr1.comp(15))].filter(Boolean),
    });
    b.add({ localRef: ref, resource, location: pr1.loc, identifiers: ids(b, [identifier], ref), ...patient(s), sources: [pr1] });
  }
}

/** IN1 (+ the IN2/IN3 that follow it) → Coverage. */
export function mapCoverages(b: Builder, s: Subject): void {
  const segs = s.segs ?? b.r.segments;
  for (let i = 0; i < segs.length; i++) {
    const in1 = segs[i]!;
    if (in1.name !== 'IN1') continue;
    const extra: SegReader[] = [];
    for (let j = i + 1; j < segs.length && (segs[j]!.name === 'IN2' || segs[j]!.name === 'IN3'); j++) extra.push(segs[j]!);
    const ref = `coverage-${setId(in1)}`;
    const policy = in1.get(36);
    const policyId = policy ? { system: b.fallbackSystem('policy'), value: policy } : undefined;
    const company = in1.all(3).map((c) => b.cx(c)).find(Boolean);
    const payorName = in1.get(4);
    const group = in1.get(8);
    const resource: FhirResource = compact({
      resourceType: 'Coverage',
      identifier: policyId ? [{ ...policyId, type: tableCode('MB', '0203') }] : undefined,
      status: 'active',
      type: cweTable(in1.comp(15), '0086') ?? cwe(in1.comp(2)),
      subscriberId: in1.get(49) || policy || undefined,
      beneficiary: s.patientRef ? localRef(s.patientRef) : undefined,
      relationship: cweTable(in1.comp(17), '0063'),
      period: period(in1.get(12), in1.get(13)),
      payor: [compact({ display: payorName || undefined, identifier: company })].filter((p) => Object.keys(p).length),
      class: group ? [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code: 'group' }] }, value: group, name: in1.get(9) || undefined }] : undefined,
      order: Number(in1.get(1)) > 0 ? Number(in1.get(1)) : undefined,
    });
    b.add({ localRef: ref, resource, location: in1.loc, identifiers: ids(b, [policyId], ref), ...patient(s), sources: [in1, ...extra] });
  }
}

function patient(s: Subject): { patientRef?: string } {
  return s.patientRef ? { patientRef: s.patientRef } : {};
}
