import t from 'tap';
import type { NormalizedRecord } from '../../../../../gateway/core/ports.js';
import { createHl7v2Normalizer, hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { isPlaceholder } from '../../../../../adapters/hl7v2/normalize/identity.js';
import { rawOf, recordsOf } from './raw.js';

const msg = (...segs: string[]): string => segs.join('\r') + '\r';
const MSH = (type: string): string => `MSH|^~\\&|APP|FAC|RCV|RFAC|20261101120000||${type}|CTRL1|P|2.5.1`;
const of = (records: NormalizedRecord[], type: string): NormalizedRecord[] => records.filter((r) => r.resourceType === type);
const keys = (r: NormalizedRecord): string[] => (r.matchKeys ?? []).map((k) => `${k.system}|${k.value}`);
const uniqueRefs = (records: NormalizedRecord[]): boolean => new Set(records.map((r) => r.localRef)).size === records.length;

const INS = '1800175123456^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS';
const PID = [
  'PID|1||12345^^^HOSP&1.2.3&ISO^MR~999999999^^^SSA^SS~777^^^^MR~000000^^^HOSP^MR~', INS,
  '~PI9^^^HOSP^PI~A1^^^HOSP^AN~UNKNOWN^^^HOSP^MR~1234^^^HOSP^NI||DOE^JANE||19700101|F||||||||||ACCT1^^^HOSP^AN|123-45-6789|D123^CA',
].join('');
const ADT = msg(MSH('ADT^A08^ADT_A01'), 'EVN|A08|20261101', PID, 'PV1|1|I|||||||||||||||||V100^^^HOSP^VN|||||||||||||||||||||||||20261101');

t.test('Patient matchKeys: PID-3 MR/PI with an authority; SSN, NI, AN, no authority and placeholders never', async (t) => {
  const p = of(recordsOf(hl7v2Normalizer.normalize(rawOf(ADT))), 'Patient')[0]!;
  t.same(keys(p), ['urn:oid:1.2.3|12345', 'urn:passerelle:aa:HOSP|PI9']);
  t.ok(p.identifiers.some((i) => i.value === '999999999'), 'the SSN stays an identifier');
  t.ok(p.identifiers.some((i) => i.value === '777'), 'an MR without authority stays an identifier');
  t.ok(p.identifiers.some((i) => i.value === '1800175123456'), 'the INS stays an identifier');
});

t.test('the INS is a match key only when the feed says it is qualified', async (t) => {
  const qualified = createHl7v2Normalizer({ identity: { qualifiedNationalId: true } });
  const p = of(recordsOf(qualified.normalize(rawOf(ADT))), 'Patient')[0]!;
  t.ok(keys(p).includes('urn:oid:1.2.250.1.213.1.4.8|1800175123456'));
  const nia = msg(MSH('ADT^A08'), 'PID|1||X1^^^NIA&1.2.250.1.213.1.4.10&ISO^INS~X2^^^H&1.2.3&ISO^PI||DOE^J', 'PV1|1|N');
  t.same(keys(of(recordsOf(qualified.normalize(rawOf(nia))), 'Patient')[0]!), ['urn:oid:1.2.250.1.213.1.4.10|X1', 'urn:oid:1.2.3|X2']);
  t.same(keys(of(recordsOf(hl7v2Normalizer.normalize(rawOf(nia))), 'Patient')[0]!), ['urn:oid:1.2.3|X2'], 'unqualified NIA never');
});

t.test('patientIdentifierTypes is configurable, but SS / NI / AN are refused even when listed', async (t) => {
  const mrOnly = createHl7v2Normalizer({ identity: { patientIdentifierTypes: ['MR'] } });
  t.same(keys(of(recordsOf(mrOnly.normalize(rawOf(ADT))), 'Patient')[0]!), ['urn:oid:1.2.3|12345']);
  const unsafe = createHl7v2Normalizer({ identity: { patientIdentifierTypes: ['MR', 'SS', 'NI', 'AN'] } });
  t.same(keys(of(recordsOf(unsafe.normalize(rawOf(ADT))), 'Patient')[0]!), ['urn:oid:1.2.3|12345']);
  const none = msg(MSH('ADT^A08'), 'PID|1||777^^^^MR||DOE^J', 'PV1|1|N');
  t.same(of(recordsOf(hl7v2Normalizer.normalize(rawOf(none))), 'Patient')[0]!.matchKeys, [], 'no trusted identifier: never matched');
});

t.test('placeholders', async (t) => {
  for (const v of ['000000', '999999999', 'XXXX', 'UNKNOWN', 'unk', '']) t.ok(isPlaceholder(v), `${v || 'empty'} is a placeholder`);
  for (const v of ['12345', '1800175123456', 'A1B1']) t.notOk(isPlaceholder(v), `${v} is not`);
});

t.test('Encounter: PV1-19 visit number is its key; Observations without an identifier get none', async (t) => {
  const records = recordsOf(hl7v2Normalizer.normalize(rawOf(ADT + 'OBX|1|NM|8302-2^Height^LN||170|cm|||||F\r')));
  t.same(keys(of(records, 'Encounter')[0]!), ['urn:passerelle:aa:HOSP|V100']);
  t.same(of(records, 'Observation')[0]!.matchKeys, []);
  const again = recordsOf(hl7v2Normalizer.normalize(rawOf(ADT + 'OBX|1|NM|8302-2^Height^LN||170|cm|||||F\r')));
  t.same(again.map((r) => r.matchKeys), records.map((r) => r.matchKeys), 're-normalizing gives the same keys');
  const placeholder = ADT.replace('V100^^^HOSP^VN', '0000^^^HOSP^VN');
  t.same(of(recordsOf(hl7v2Normalizer.normalize(rawOf(placeholder))), 'Encounter')[0]!.matchKeys, []);
});

const ORU_HEAD = [MSH('ORU^R01^ORU_R01'), 'PID|1||12345^^^HOSP&1.2.3&ISO^MR||DOE^JANE'];

t.test('ORU: 20 OBR under one placer number give 20 reports and 20 requests with distinct keys', async (t) => {
  const segs = [...ORU_HEAD, 'ORC|RE|P100^LAB'];
  for (let i = 1; i <= 20; i++) segs.push(`OBR|${i}|P100^LAB||T${i}^Test ${i}^L|||20261101|||||||||||||||20261101|||F`, `OBX|1|NM|X${i}^X^L||${i}|mg|||||F`);
  const records = recordsOf(hl7v2Normalizer.normalize(rawOf(msg(...segs))));
  t.ok(uniqueRefs(records), 'localRefs unique within the message');
  for (const type of ['DiagnosticReport', 'ServiceRequest']) {
    const rs = of(records, type);
    t.equal(rs.length, 20, `20 ${type}`);
    t.equal(new Set(rs.map((r) => keys(r).join())).size, 20, `20 distinct ${type} keys`);
    t.ok(rs.every((r) => keys(r).length === 1 && keys(r)[0]!.startsWith('urn:passerelle:')), 'one composite key each');
  }
});

t.test('orders match on placer AND filler within their own group', async (t) => {
  // Two OBR after one ORC-2, each with its own OBR-2 placer but one filler number.
  const one = recordsOf(hl7v2Normalizer.normalize(rawOf(msg(...ORU_HEAD, 'ORC|RE|P1^LAB|F1^LIS',
    'OBR|1|P1a^LAB|F1^LIS|A^A^L|||20261101', 'OBX|1|NM|A^A^L||1||||||F',
    'OBR|2|P1b^LAB|F1^LIS|B^B^L|||20261101', 'OBX|1|NM|B^B^L||2||||||F'))));
  t.ok(uniqueRefs(one), 'localRefs unique within the message');
  const sr = of(one, 'ServiceRequest');
  t.equal(sr.length, 2);
  t.not(keys(sr[0]!).join(), keys(sr[1]!).join(), 'different placers: different orders');
  t.match(keys(sr[0]!)[0], /PLAC=urn:passerelle:aa:LAB\|P1~PLAC=urn:passerelle:aa:LAB\|P1a~FILL=urn:passerelle:aa:LIS\|F1/);
  // Same placer, different fillers.
  const two = recordsOf(hl7v2Normalizer.normalize(rawOf(msg(...ORU_HEAD,
    'ORC|RE|P2^LAB|F2^LIS', 'OBR|1|P2^LAB|F2^LIS|A^A^L', 'ORC|RE|P2^LAB|F3^LIS', 'OBR|2|P2^LAB|F3^LIS|A^A^L'))));
  const reports = of(two, 'DiagnosticReport');
  t.equal(reports.length, 2);
  t.notOk(keys(reports[0]!).join().includes('F3'), 'the first report does not borrow the second group\'s filler');
  t.not(keys(reports[0]!).join(), keys(reports[1]!).join());
  // Only a placer: that one with its namespace.
  const placerOnly = recordsOf(hl7v2Normalizer.normalize(rawOf(msg(...ORU_HEAD, 'OBR|1|P9^LAB||A^A^L'))));
  t.same(keys(of(placerOnly, 'ServiceRequest')[0]!), ['urn:passerelle:order|PLAC=urn:passerelle:aa:LAB|P9']);
});

t.test('SIU: AIS set IDs restarting in each RGS group give distinct services', async (t) => {
  const records = recordsOf(hl7v2Normalizer.normalize(rawOf(msg(MSH('SIU^S12'),
    'SCH|A1^SCHED|F1^SCHED|||||ROUTINE|||60|MIN|^^^20261101100000+0100^20261101110000+0100|||||||||||||BOOKED',
    'PID|1||12345^^^HOSP&1.2.3&ISO^MR||DOE^JANE',
    'RGS|1', 'AIS|1||CT^CT scan^L|20261101100000', 'AIG|1||R1^Room', 'AIL|1||^^^CT1',
    'RGS|2', 'AIS|1||MRI^MRI^L|20261101103000', 'AIG|1||R2^Room', 'AIL|1||^^^MR1'))));
  t.ok(uniqueRefs(records), 'localRefs unique within the message');
  const services = of(records, 'ServiceRequest');
  t.equal(services.length, 2);
  t.not(keys(services[0]!).join(), keys(services[1]!).join(), 'distinct keys');
  t.not(services[0]!.identifiers[0]!.value, services[1]!.identifiers[0]!.value, 'distinct identifiers');
  t.match(keys(of(records, 'Appointment')[0]!)[0], /^urn:passerelle:appointment\|PLAC=.*A1~FILL=.*F1$/);
});

t.test('RDS: two ORC groups with one placer number give distinct MedicationRequests', async (t) => {
  const records = recordsOf(hl7v2Normalizer.normalize(rawOf(msg(MSH('RDS^O13'),
    'PID|1||12345^^^HOSP&1.2.3&ISO^MR||DOE^JANE',
    'ORC|RE|P7^PHARM', 'RXE||A^Drug A^NDC|1||TAB', 'RXD|1|A^Drug A^NDC|20261101|1',
    'ORC|RE|P7^PHARM', 'RXE||B^Drug B^NDC|1||TAB', 'RXD|1|B^Drug B^NDC|20261101|1'))));
  t.ok(uniqueRefs(records), 'localRefs unique within the message');
  const mr = of(records, 'MedicationRequest');
  t.equal(mr.length, 2);
  t.not(keys(mr[0]!).join(), keys(mr[1]!).join());
  t.equal(of(records, 'MedicationDispense').length, 2);
});
