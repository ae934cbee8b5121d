import t from 'tap';
import { Message } from 'node-hl7-client';
import { buildAck, hl7DateTime, issuesToAckErrors } from '../../../../adapters/hl7v2/ack.js';
import { parseHl7 } from '../../../../adapters/hl7v2/parse.js';

const SELF = { application: 'PASSERELLE', facility: 'GW' };

function parsed(text: string) {
  const r = parseHl7(text);
  if (!r.ok) throw new Error('fixture does not parse');
  return r.message;
}

const ADT = 'MSH|^~\\&|HIS^1.2.3^ISO|CHU LYON|GW|PASS|20260101120000||ADT^A01^ADT_A01|CTRL-42|P|2.5.1|||||FRA|8859/1\rPID|1||123^^^CHU^MR';

t.test('AA mirrors the inbound MSH: sender/receiver swapped, MSA-2 = MSH-10, same version and charset', async (t) => {
  const m = parsed(ADT);
  const ack = buildAck({ header: m.header, delimiters: m.delimiters, code: 'AA', ackControlId: 'A1', dateTime: '20260101120001+0000', self: SELF });
  const a = parsed(ack);
  t.equal(a.get('MSH-3.1'), 'GW');
  t.equal(a.get('MSH-4'), 'PASS');
  t.equal(a.raw('MSH-5'), 'HIS^1.2.3^ISO', 'HD components survive the mirror');
  t.equal(a.get('MSH-6'), 'CHU LYON');
  t.equal(a.get('MSH-7'), '20260101120001+0000');
  t.equal(a.raw('MSH-9'), 'ACK^A01^ACK');
  t.equal(a.get('MSH-10'), 'A1');
  t.equal(a.get('MSH-11'), 'P');
  t.equal(a.get('MSH-12'), '2.5.1');
  t.equal(a.get('MSH-18'), '8859/1');
  t.equal(a.get('MSA-1'), 'AA');
  t.equal(a.get('MSA-2'), 'CTRL-42');
  t.equal(a.segmentCount, 2);
  t.notOk(ack.includes('\n'), 'segments end with CR only');
});

t.test('the memoised template and a fresh build agree', async (t) => {
  const m = parsed(ADT);
  const base = { header: m.header, delimiters: m.delimiters, code: 'AA' as const, dateTime: '20260101120001+0000', self: SELF };
  const first = buildAck({ ...base, ackControlId: 'A1' });
  const second = buildAck({ ...base, ackControlId: 'A2' });
  t.equal(second, first.replace('|A1|', '|A2|'));
  const m2 = parsed(ADT.replace('CTRL-42', 'X|Y'.replace('|', '\\F\\')));
  const third = buildAck({ ...base, header: m2.header, ackControlId: 'A3' });
  t.equal(parsed(third).get('MSA-2'), 'X|Y', 'MSA-2 is escaped like any value');
});

t.test('non-standard delimiters are kept (MSH-1/MSH-2 of the inbound)', async (t) => {
  const m = parsed('MSH#$%@!#APP#FAC#GW#GWF#20260101##ORU$R01#C9#T#2.3\rOBX#1');
  const ack = buildAck({ header: m.header, delimiters: m.delimiters, code: 'AA', ackControlId: 'A9', dateTime: '20260101', self: SELF });
  t.match(ack, /^MSH#\$%@!#GW#GWF#APP#FAC#20260101##ACK\$R01#A9#T#2\.3\rMSA#AA#C9$/);
});

t.test('a five-character MSH-2 (v2.7 truncation character) is mirrored as sent', async (t) => {
  const m = parsed('MSH|^~\\&#|APP|FAC|GW|GWF|20260101||ADT^A01^ADT_A01|C7|P|2.7\rPID|1');
  const ack = buildAck({ header: m.header, delimiters: m.delimiters, code: 'AA', ackControlId: 'A7', dateTime: '20260101', self: SELF });
  t.match(ack, /^MSH\|\^~\\&#\|GW\|GWF\|APP\|FAC\|/);
});

t.test('AE carries ERR-2 location, ERR-3 table 0357 code and ERR-4 severity (v2.5+)', async (t) => {
  const m = parsed(ADT);
  const errors = issuesToAckErrors([
    { severity: 'warning', code: 'value', where: 'PID-8', message: 'PID-8 is not in table 0001' },
    { severity: 'error', code: 'value', where: 'PID-7', message: 'PID-7 is not a valid HL7 DTM' },
    { severity: 'error', code: 'required', where: 'PID[2]-3.1', message: 'PID-3.1 is required' },
  ]);
  const ack = buildAck({ header: m.header, delimiters: m.delimiters, code: 'AE', errors, ackControlId: 'A1', dateTime: '20260101', self: SELF });
  const a = parsed(ack);
  t.equal(a.get('MSA-1'), 'AE');
  t.equal(a.get('MSA-2'), 'CTRL-42');
  const errs = a.segments('ERR');
  t.equal(errs.length, 3);
  t.equal(errs[0]!.raw(2), 'PID^1^7', 'errors come first, location as ERL');
  t.equal(errs[0]!.raw(3), '102^Data type error^HL70357');
  t.equal(errs[0]!.get(4), 'E');
  t.equal(errs[0]!.get(8), 'PID-7 is not a valid HL7 DTM');
  t.equal(errs[1]!.raw(2), 'PID^2^3^^1');
  t.equal(errs[1]!.get(3), '101');
  t.equal(errs[2]!.get(4), 'W');
});

t.test('AR names our rule in ERR-5; versions before 2.5 use ERR-1', async (t) => {
  const m = parsed(ADT.replace('|2.5.1|', '|2.3|'));
  const ack = buildAck({
    header: m.header, delimiters: m.delimiters, code: 'AR', ackControlId: 'R1', dateTime: '20260101', self: SELF,
    errors: [{ where: 'MSH-9.1', hl7Code: '200', severity: 'E', appCode: 'PSL_FORBIDDEN', text: 'message type is not accepted on this feed' }],
  });
  const a = parsed(ack);
  t.equal(a.raw('MSH-9'), 'ACK^A01', 'no MSH-9.3 before v2.3.1');
  t.equal(a.raw('ERR-1'), 'MSH^1^9^200&Unsupported message type&HL70357');
  const v25 = parsed(buildAck({
    header: parsed(ADT).header, code: 'AR', ackControlId: 'R1', dateTime: '20260101', self: SELF,
    errors: [{ hl7Code: '207', severity: 'E', appCode: 'PSL_MLLP_FRAME_TOO_LARGE', text: 'MLLP frame exceeds the feed maxFrameBytes' }],
  }));
  t.equal(v25.raw('ERR-5'), 'PSL_MLLP_FRAME_TOO_LARGE^^99PSL');
  t.equal(v25.raw('ERR-3'), '207^Application internal error^HL70357');
});

t.test('an unreadable inbound MSH still gets a well-formed ACK from us', async (t) => {
  const ack = buildAck({ header: undefined, code: 'AE', ackControlId: 'R2', dateTime: '20260101', self: SELF, errors: [{ hl7Code: '100', severity: 'E', where: 'MSH', text: 'message does not start with an MSH segment' }] });
  const a = parsed(ack);
  t.equal(a.get('MSH-3'), 'PASSERELLE');
  t.equal(a.get('MSH-12'), '2.5.1');
  t.equal(a.get('MSA-2'), '');
  t.equal(a.raw('ERR-2'), 'MSH^1');
});

t.test('enhanced-mode ACKs say MSH-15/16 = NE', async (t) => {
  const m = parsed(`${ADT.split('\r')[0]!.replace('|FRA|8859/1', '|FRA|8859/1').replace('|||||FRA', '|||AL|AL|FRA')}`);
  const a = parsed(buildAck({ header: m.header, delimiters: m.delimiters, code: 'CA', ackControlId: 'A1', dateTime: '20260101', self: SELF, enhanced: true }));
  t.equal(a.get('MSA-1'), 'CA');
  t.equal(a.get('MSH-15'), 'NE');
  t.equal(a.get('MSH-16'), 'NE');
});

t.test('our ACKs parse with node-hl7-client (independent parser)', async (t) => {
  const m = parsed(ADT);
  for (const code of ['AA', 'AE'] as const) {
    const ack = buildAck({ header: m.header, delimiters: m.delimiters, code, ackControlId: 'A7', dateTime: '20260101', self: SELF, ...(code === 'AE' ? { errors: [{ where: 'PID-7', hl7Code: '102' as const, severity: 'E' as const }] } : {}) });
    const peer = new Message({ text: ack });
    t.equal(peer.get('MSA.1').toString(), code);
    t.equal(peer.get('MSA.2').toString(), 'CTRL-42');
    t.equal(peer.get('MSH.9.1').toString(), 'ACK');
    t.equal(peer.get('MSH.5.1').toString(), 'HIS');
  }
});

t.test('hl7DateTime is UTC DTM', async (t) => {
  t.equal(hl7DateTime(new Date('2026-11-23T04:05:06.789Z')), '20261123040506+0000');
});
