import t from 'tap';
import iconv from 'iconv-lite';
import { hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { makeRaw } from '../../../../contract/store.conformance.js';

const ADT = 'MSH|^~\\&|HIS|CHU|GW|GW|20261123101500||ADT^A01|C1|P|2.5|||||FRA|8859/1\rPID|1||123^^^CHU^MR||Hélène^Zoë||19800101|F\r';

const familyOf = (raw: ReturnType<typeof makeRaw>): unknown => {
  const out = hl7v2Normalizer.normalize(raw);
  if (!out.ok) throw new Error('not normalized');
  const patient = out.records.find((r) => r.resourceType === 'Patient')?.resource as { name?: Array<{ family?: string; given?: string[] }> };
  return patient.name?.[0];
};

t.test('Latin-1 bytes declared in MSH-18 normalize to the right names', async (t) => {
  t.match(familyOf(makeRaw({ body: iconv.encode(ADT, 'latin1') })), { family: 'Hélène', given: ['Zoë'] }, 'from MSH-18');
});

t.test('the charset recorded by the intake wins over a wrong MSH-18', async (t) => {
  const cp1252 = iconv.encode(ADT.replace('8859/1', 'UNICODE UTF-8').replace('Hélène', 'Hélène€'), 'windows-1252');
  t.match(familyOf(makeRaw({ body: cp1252, charset: 'windows-1252' })), { family: 'Hélène€' }, 'RawMessage.charset');
  t.match(familyOf(makeRaw({ body: cp1252, contentType: 'x-application/hl7-v2+er7; charset=windows-1252' })), { family: 'Hélène€' },
    'a raw stored before that field, with the charset on its content type');
});
