import t from 'tap';
import { hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { first, rawOf, recordsOf } from './raw.js';

const body = [
  'MSH|^~\\&|APP|FAC|||20240101||ADT^A04|C1|P|2.5',
  'PID|1||123^^^FAC^MR||DOE^JANE||19700101|F|||||||||||||||||||||||||||||||||XYZ',
  'ZPI|1|custom',
  'PV1|1|O|||||||||||||||||V9^^^FAC^VN|||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||EXTRA',
].join('\r');

t.test('every populated field no mapping read is reported on a record, by location', async (t) => {
  const records = recordsOf(hl7v2Normalizer.normalize(rawOf(body)));
  const patient = first(records, 'Patient');
  const encounter = first(records, 'Encounter');
  const all = records.flatMap((r) => r.provenance.unmapped ?? []);
  t.ok(all.includes('PID-41'), 'a PID field we do not map');
  t.ok(all.includes('ZPI-1') && all.includes('ZPI-2'), 'a Z-segment nobody claims is reported, not dropped');
  t.ok(patient.provenance.unmapped!.includes('ZPI-2'), 'unclaimed segments land on the first record');
  t.ok(all.some((u) => /^PV1-\d+$/.test(u) && !['PV1-2', 'PV1-19'].includes(u)), 'the unknown PV1 field');
  t.notOk(all.includes('PID-5') || all.includes('PID-7') || all.includes('PV1-2') || all.includes('PV1-19'), 'mapped fields are not reported');
  t.notOk(all.includes('MSH-1') || all.includes('MSH-2'), 'delimiters are not data');
  const sum = records.reduce((n, r) => n + r.provenance.coverage!.populated, 0);
  // Populated: MSH-1,2,3,4,7,9,10,11,12 + PID-1,3,5,7,8,41 + ZPI-1,2 + PV1-1,2,19,82.
  t.equal(sum, 21, 'populated fields of the message are counted once, across records');
  t.ok(encounter.provenance.coverage!.populated > 0, 'the Encounter reports its own segment');
});
