import t from 'tap';
import { createHl7v2Normalizer, hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { at, first, rawOf, recordsOf } from './raw.js';

const msg = (obx14: string, pv144: string): string => [
  'MSH|^~\\&|LAB|FAC|||20240101||ORU^R01|C1|P|2.5.1',
  'PID|1||9^^^FAC^MR',
  `PV1|1|I|||||||||||||||||V1^^^FAC^VN|||||||||||||||||||||||||${pv144}`,
  'OBR|1|P1|F1|24317-0^CBC^LN',
  `OBX|1|NM|718-7^Hgb^LN||13.5|g/dL^g/dL^UCUM|||||F|||${obx14}`,
].join('\r');

t.test('without a configured zone, offset-less times stay local and the message says so once', async (t) => {
  const n = hl7v2Normalizer.normalize(rawOf(msg('202401151030', '20240715083000')));
  const records = recordsOf(n);
  t.equal(first(records, 'Observation').resource['effectiveDateTime'], '2024-01-15T10:30:00');
  const warnings = n.issues.filter((i) => i.where === 'message' && /UTC offset/.test(i.message));
  t.equal(warnings.length, 1);
  t.notMatch(warnings[0]!.message, /2024|10:30/, 'the warning carries no value');
});

t.test('with a feed time zone, the offset in force at that local time is added (DST-aware)', async (t) => {
  const paris = createHl7v2Normalizer({ timeZone: 'Europe/Paris' });
  const n = paris.normalize(rawOf(msg('202401151030', '20240715083000')));
  const records = recordsOf(n);
  t.equal(first(records, 'Observation').resource['effectiveDateTime'], '2024-01-15T10:30:00+01:00', 'winter time');
  t.equal(at(first(records, 'Encounter').resource, 'period.start'), '2024-07-15T08:30:00+02:00', 'summer time');
  t.notOk(n.issues.some((i) => /UTC offset/.test(i.message)));
  const sent = paris.normalize(rawOf(msg('202401151030-0500', '')));
  t.equal(first(recordsOf(sent), 'Observation').resource['effectiveDateTime'], '2024-01-15T10:30:00-05:00', 'a sent offset is never changed');
  const ny = createHl7v2Normalizer({ timeZone: 'America/New_York' }).normalize(rawOf(msg('202407011200', '')));
  t.equal(first(recordsOf(ny), 'Observation').resource['effectiveDateTime'], '2024-07-01T12:00:00-04:00');
  t.equal(first(recordsOf(ny), 'Observation').resource['valueQuantity'] !== undefined, true);
});

t.test('an unknown time zone is a configuration error at construction', async (t) => {
  t.throws(() => createHl7v2Normalizer({ timeZone: 'Mars/Olympus' }), TypeError);
});
