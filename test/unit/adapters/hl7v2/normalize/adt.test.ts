import t from 'tap';
import { LOCAL_REF_PREFIX } from '../../../../../gateway/core/ports.js';
import { hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { at, first, normalizeMs, rawOf, recordsOf } from './raw.js';

t.test('ADT^A01: Patient demographics, identifiers for matching, Encounter from PV1', async (t) => {
  const records = recordsOf(normalizeMs('ADT-A01-01'));
  const patient = first(records, 'Patient');
  t.equal(patient.localRef, 'patient');
  t.same(patient.identifiers[0], { system: 'urn:oid:2.16.1', value: 'PATID1234' }, 'PID-3 with an OID authority');
  t.same(patient.identifiers[1], { system: 'urn:passerelle:aa:USSSA', value: '123456789' }, 'PID-3 with a namespace authority');
  const res = patient.resource;
  t.equal(res['gender'], 'male');
  t.equal(res['birthDate'], '1988-08-18');
  t.equal(at(res, '_birthDate.extension.0.valueDateTime'), '1988-08-18T11:26:00+02:15', 'birth time keeps its offset');
  t.match(at(res, 'name.0'), { family: 'EVERYMAN', given: ['ADAM', 'A'], use: 'usual' });
  t.match(at(res, 'address.0'), { line: ['1000', 'Hospital Lane', 'Ste. 123'], city: 'Ann Arbor', state: 'MI', postalCode: '99999' });
  t.equal(at(res, 'maritalStatus.coding.0.code'), 'M');
  t.ok((res['name'] as unknown[]).some((n) => at(n, 'family') === 'elbert'), 'PID-9 alias is a name');
  t.match(res['identifier'], [{ value: 'PATID1234' }], 'PID-3 first');
  t.ok((res['identifier'] as unknown[]).some((i) => at(i, 'value') === 'DB123'), 'DB1-3 of the patient (DB1-2 = PT)');
  t.notOk((res['identifier'] as unknown[]).some((i) => at(i, 'value') === 'Medicare-12345'), 'insured-person numbers are not merged when the insured is the spouse');
  t.equal(patient.provenance.location, 'PID[1]');
  t.equal(patient.provenance.mapping, 'hl7v2-adt@1');
  t.ok(patient.provenance.unmapped!.includes('PID-18'), 'PID-18 (account number) is reported as unmapped');

  const enc = first(records, 'Encounter');
  const e = enc.resource;
  t.same(e['class'], { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'PRENC', display: 'pre-admission' });
  t.equal(e['status'], 'in-progress');
  t.same(e['period'], { start: '2015-02-08T11:34:19+01:10' });
  t.equal(at(e, 'subject.reference'), LOCAL_REF_PREFIX + 'patient');
  t.equal(enc.patientRef, 'patient');
  t.ok(records.some((r) => r.resourceType === 'Practitioner'), 'attending doctor becomes a Practitioner');
  t.match(first(records, 'Condition').resource, { code: { coding: [{ system: 'http://snomed.info/sct', code: '422504002' }] } });
  t.match(first(records, 'AllergyIntolerance').resource, { code: { coding: [{ code: 'P' }] } });
  t.match(first(records, 'Coverage').resource, { beneficiary: { reference: LOCAL_REF_PREFIX + 'patient' } });
  t.match(first(records, 'Procedure').resource, { code: { coding: [{ code: '76164006' }] } });
});

t.test('ADT encounter status follows the trigger event and the discharge date', async (t) => {
  const status = (name: string): unknown => first(recordsOf(normalizeMs(name)), 'Encounter').resource['status'];
  t.equal(status('ADT-A03-01'), 'finished', 'A03 discharge');
  t.equal(status('ADT-A05-01'), 'planned', 'A05 pre-admit');
  t.equal(status('ADT-A11-01'), 'cancelled', 'A11 cancel admit');
  t.equal(status('ADT-A08-01'), 'finished', 'A08 with PV1-45');
  const a13 = first(recordsOf(normalizeMs('ADT-A13-02')), 'Encounter').resource;
  t.equal(at(a13, 'period.end'), undefined, 'A13 cancels the discharge: no end');
});

t.test('ADT^A40 merge: survivor replaces the prior identifiers, prior record is replaced-by', async (t) => {
  const records = recordsOf(normalizeMs('ADT-A40-01'));
  const prior = records.find((r) => r.localRef === 'patient-prior');
  t.ok(prior, 'prior patient record');
  t.match(prior!.resource, { active: false, link: [{ type: 'replaced-by', other: { reference: LOCAL_REF_PREFIX + 'patient' } }] });
  t.ok(prior!.identifiers.length > 0);
  const survivor = first(records, 'Patient');
  t.match(survivor.resource, { link: [{ type: 'replaces', other: { identifier: { value: String } } }] });
  t.ok(records.indexOf(survivor) < records.indexOf(prior!), 'survivor stored first');
});

t.test('ADT^A60 allergies from IAM', async (t) => {
  const records = recordsOf(normalizeMs('ADT-A60-01'));
  const allergies = records.filter((r) => r.resourceType === 'AllergyIntolerance');
  t.ok(allergies.length > 0);
  for (const a of allergies) {
    t.equal(a.patientRef, 'patient');
    t.match(a.provenance.location, /^IAM\[\d+\]$/);
  }
});

t.test('A person update without a visit gives no Encounter; bad dates and codes are issues by location', async (t) => {
  const body = [
    'MSH|^~\\&|APP|FAC|||20240101||ADT^A31|C1|P|2.5',
    'PID|1||123^^^^MR||DOE^JANE||2024133|Z',
    'PV1|1|N',
  ].join('\r');
  const n = hl7v2Normalizer.normalize(rawOf(body));
  const records = recordsOf(n);
  t.same(records.map((r) => r.resourceType), ['Patient']);
  t.same(records[0]!.identifiers, [{ system: 'urn:passerelle:id:FAC:MR', value: '123' }], 'fallback system from sending facility and CX-5');
  t.ok(n.issues.some((i) => i.where === 'PID-7'));
  t.ok(n.issues.some((i) => i.where === 'PID-8'));
  t.equal((records[0]!.resource as Record<string, unknown>)['birthDate'], undefined);
});

t.test('repeated patient groups (A47 list, A17 swap) each give their own records, never sharing identifiers', async (t) => {
  const records = recordsOf(normalizeMs('ADT-A47-02'));
  const patients = records.filter((r) => r.resourceType === 'Patient');
  t.same(patients.map((p) => p.localRef).sort(), ['patient', 'patient-2', 'patient-2-prior', 'patient-prior']);
  const swap = [
    'MSH|^~\\&|APP|FAC|||20240101||ADT^A17|C7|P|2.5',
    'PID|1||111^^^FAC^MR||ONE^PAT',
    'PV1|1|I|W1^1^A||||||||||||||||V1^^^FAC^VN',
    'DG1|1||I10^Hypertension^I10',
    'PID|2||222^^^FAC^MR||TWO^PAT',
    'PV1|1|I|W1^2^B||||||||||||||||V2^^^FAC^VN',
    'DG1|1||E11^Diabetes^I10',
  ].join('\r');
  const n = hl7v2Normalizer.normalize(rawOf(swap));
  const all = recordsOf(n);
  const encounters = all.filter((r) => r.resourceType === 'Encounter');
  t.same(encounters.map((e) => e.patientRef), ['patient', 'patient-2']);
  const conditions = all.filter((r) => r.resourceType === 'Condition');
  t.same(conditions.map((c) => [c.patientRef, at(c.resource, 'code.coding.0.code')]), [['patient', 'I10'], ['patient-2', 'E11']]);
  const keys = all.flatMap((r) => r.identifiers.map((i) => `${r.resourceType}|${i.system}|${i.value}`));
  t.equal(new Set(keys).size, keys.length, 'no two records of a type share an identifier');
});
