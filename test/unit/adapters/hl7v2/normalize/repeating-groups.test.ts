import t from 'tap';
import { readFileSync } from 'node:fs';
import type { NormalizedRecord } from '../../../../../gateway/core/ports.js';
import { hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { VALUE_ATTACHMENT } from '../../../../../adapters/hl7v2/normalize/observation.js';
import { corpus } from '../../../../helpers/corpus.js';
import { at, normalizeMs, rawOf, recordsOf } from './raw.js';

const msg = (...segs: string[]): string => segs.join('\r') + '\r';
const MSH = (type: string): string => `MSH|^~\\&|APP|FAC|RCV|RFAC|20261101120000||${type}|CTRL1|P|2.5.1`;
const of = (records: NormalizedRecord[], type: string): NormalizedRecord[] => records.filter((r) => r.resourceType === type);
const run = (text: string): NormalizedRecord[] => recordsOf(hl7v2Normalizer.normalize(rawOf(text)));

t.test('ADT^A40: every PID/MRG/PV1 repetition is mapped', async (t) => {
  const records = run(msg(MSH('ADT^A40^ADT_A39'), 'EVN|A40|20261101',
    'PID|1||1201^^^HOSP&1.2.3&ISO^MR||ONE^A', 'MRG|911^^^HOSP&1.2.3&ISO^MR', 'PV1|1|I|||||||||||||||||V1^^^HOSP^VN',
    'PID|1||2302^^^HOSP&1.2.3&ISO^MR||TWO^B', 'MRG|922^^^HOSP&1.2.3&ISO^MR', 'PV1|1|O|||||||||||||||||V2^^^HOSP^VN'));
  const patients = of(records, 'Patient');
  t.equal(patients.length, 4, 'two survivors and two prior patients');
  t.same(patients.filter((p) => p.resource['active'] === false).map((p) => p.matchKeys?.[0]?.value).sort(), ['911', '922'], 'each MRG gives its prior Patient');
  const encounters = of(records, 'Encounter');
  t.same(encounters.map((e) => e.identifiers[0]?.value).sort(), ['V1', 'V2'], 'the second PV1 is mapped too');
  t.equal(encounters.find((e) => e.identifiers[0]?.value === 'V2')!.patientRef, patients.find((p) => p.matchKeys?.[0]?.value === '2302')!.localRef, 'on its own patient');
});

t.test('BAR^P01: a second visit of one patient gives its own Encounter and diagnoses', async (t) => {
  const records = run(msg(MSH('BAR^P01^BAR_P01'), 'EVN|P01|20261101', 'PID|1||1201^^^HOSP&1.2.3&ISO^MR||ONE^A|||||||||||||ACCT1',
    'PV1|1|I|||||||||||||||||V1^^^HOSP^VN', 'DG1|1||A01^First^I10',
    'PV1|1|O|||||||||||||||||V2^^^HOSP^VN', 'DG1|1||B02^Second^I10'));
  t.equal(of(records, 'Patient').length, 1);
  const encounters = of(records, 'Encounter');
  t.same(encounters.map((e) => e.identifiers[0]?.value), ['V1', 'V2']);
  const conditions = of(records, 'Condition');
  t.equal(conditions.length, 2);
  const second = conditions.find((c) => at(c.resource, 'code.coding.0.code') === 'B02')!;
  t.equal(at(second.resource, 'encounter.reference'), `urn:passerelle:local:${encounters[1]!.localRef}`, 'the second diagnosis is on the second visit');
  t.equal(new Set(records.map((r) => r.localRef)).size, records.length, 'localRefs unique');
  t.equal(of(records, 'Account').length, 1, 'one account');
});

t.test('BAR^P01 corpus message still maps its single visit', async (t) => {
  t.equal(of(recordsOf(normalizeMs('BAR-P01-01')), 'Encounter').length, 1);
});

t.test('ORM^O01 with RXO: a MedicationRequest, not a ServiceRequest', async (t) => {
  const records = run(msg(MSH('ORM^O01^ORM_O01'), 'PID|1||1201^^^HOSP&1.2.3&ISO^MR||ONE^A',
    'ORC|NW|P55^EHR', 'RXO|01151327^Doxycycline^NDC|1|2|TAB', 'RXR|PO^oral^HL70162'));
  const mr = of(records, 'MedicationRequest');
  t.equal(mr.length, 1);
  t.equal(at(mr[0]!.resource, 'medicationCodeableConcept.coding.0.code'), '01151327');
  t.equal(at(mr[0]!.resource, 'intent'), 'order');
  t.equal(of(records, 'ServiceRequest').length, 0);
  t.match(mr[0]!.matchKeys?.[0]?.value, /PLAC=urn:passerelle:aa:EHR\|P55/);
});

t.test('ORM^O01 corpus message with OBR still gives ServiceRequests', async (t) => {
  const text = readFileSync(corpus('hl7v2/microsoft-fhir-converter/LAB-ORM-1.hl7'), 'utf8');
  t.ok(of(run(text), 'ServiceRequest').length > 0);
});

t.test('ED OBX → Observation with the IG valueAttachment extension', async (t) => {
  const data = Buffer.from('%PDF-1.4 test').toString('base64');
  const records = run(msg(MSH('ORU^R01^ORU_R01'), 'PID|1||1201^^^HOSP&1.2.3&ISO^MR||ONE^A',
    'OBR|1|P1^LAB|F1^LIS|11502-2^Lab report^LN', `OBX|1|ED|11502-2^Lab report^LN||^application^pdf^Base64^${data}||||||F`));
  const obs = of(records, 'Observation')[0]!;
  t.same(obs.resource['extension'], [{ url: VALUE_ATTACHMENT, valueAttachment: { contentType: 'application/pdf', data } }]);
  const report = of(records, 'DiagnosticReport').find((r) => (r.resource['result'] as unknown[] | undefined)?.length)!;
  t.ok(report, 'the OBR report lists the document Observation as a result');
});
