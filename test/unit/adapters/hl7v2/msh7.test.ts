import t from 'tap';
import { sha256Hex } from '../../../../gateway/core/ids.js';
import { hashWithoutMsh7 } from '../../../../adapters/hl7v2/msh7.js';

const msg = (msh7: string, rest = 'PID|1||123^^^CHU^MR'): Buffer =>
  Buffer.from(`MSH|^~\\&|HIS|CHU|GW|PSL|${msh7}||ADT^A01|C1|P|2.5\r${rest}\r`, 'latin1');

t.test('hashWithoutMsh7: equal when only MSH-7 differs, different otherwise', async (t) => {
  t.equal(hashWithoutMsh7(msg('20260101120000')), hashWithoutMsh7(msg('20260101120512+0100')), 'only MSH-7 differs');
  t.not(hashWithoutMsh7(msg('20260101120000')), hashWithoutMsh7(msg('20260101120000', 'PID|1||999^^^CHU^MR')), 'another segment differs');
  t.not(hashWithoutMsh7(msg('20260101120000')), sha256Hex(msg('20260101120000')), 'not the plain sha256');
  const otherSep = Buffer.from('MSH#^~\\&#HIS#CHU#GW#PSL#20260101#ignored#ADT^A01#C1\r', 'latin1');
  const otherSepLater = Buffer.from('MSH#^~\\&#HIS#CHU#GW#PSL#20270101#ignored#ADT^A01#C1\r', 'latin1');
  t.equal(hashWithoutMsh7(otherSep), hashWithoutMsh7(otherSepLater), 'the field separator is read from MSH-1');
  t.equal(hashWithoutMsh7(Buffer.from('PID|1')), undefined, 'not an HL7 message');
  const short = Buffer.from('MSH|^~\\&|HIS\r', 'latin1');
  t.equal(hashWithoutMsh7(short), sha256Hex(short), 'an MSH without MSH-7 hashes as is');
  t.equal(hashWithoutMsh7(Buffer.from('MSH|^~\\&|A|B|C|D|2026\nPID|1', 'latin1')), hashWithoutMsh7(Buffer.from('MSH|^~\\&|A|B|C|D|2027\nPID|1', 'latin1')), 'LF segment ends');
});
