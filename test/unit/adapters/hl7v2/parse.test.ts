import t from 'tap';
import { parseHl7, parseHl7Path, formatHl7Path, escapeHl7, unescapeHl7, DEFAULT_DELIMITERS, type Hl7Message } from '../../../../adapters/hl7v2/parse.js';
import { splitBatch } from '../../../../adapters/hl7v2/batch.js';

const MSH = 'MSH|^~\\&|LAB|HOSP^1.2.3^ISO|GW|PSL|20240102030405||ORU^R01^ORU_R01|CTRL-1|P|2.5.1|||AL|NE||8859/1';

function ok(input: string | Uint8Array): Hl7Message {
  const r = parseHl7(input);
  if (!r.ok) throw new Error(`unexpected rejection: ${r.issues.map((i) => i.where).join(',')}`);
  return r.message;
}

t.test('header fields for routing and the ACK', async (t) => {
  const h = ok(`${MSH}\rPID|1`).header;
  t.same(h, {
    fieldSeparator: '|', encodingCharacters: '^~\\&', sendingApplication: 'LAB', sendingFacility: 'HOSP^1.2.3^ISO',
    receivingApplication: 'GW', receivingFacility: 'PSL', dateTime: '20240102030405',
    messageType: { code: 'ORU', trigger: 'R01', structure: 'ORU_R01' }, controlId: 'CTRL-1', processingId: 'P',
    version: '2.5.1', acceptAckType: 'AL', appAckType: 'NE', charsets: ['8859/1'],
  });
  t.equal(ok(`${MSH}\rPID|1`).segmentAt(0)!.text, MSH, 'raw MSH text is available for mirroring');
});

t.test('paths: fields, repetitions, components, subcomponents, segment occurrences', async (t) => {
  const m = ok(`${MSH}\rPID|1||111^^^A^MR~222^^^B^SS||DOE^JOHN^Q&X&Y||19610615|M\rOBX|1|NM|A^B||5\rOBX|2|ST|C^D||seven`);
  t.equal(m.get('PID-3'), '111', 'a field path gives its first leaf (terser convention)');
  t.equal(m.get('PID-3.4'), 'A');
  t.equal(m.get('PID-3[2].4'), 'B');
  t.equal(m.get('PID-3[2]-5'), 'SS');
  t.equal(m.get('PID.5.3.2'), 'X', 'node-hl7-client dotted spelling');
  t.equal(m.get('PID-5-3-3'), 'Y', 'dashed spelling');
  t.equal(m.get('OBX[2]-5'), 'seven');
  t.equal(m.get('OBX', 2, 3, 1, 2), 'D', 'positional form');
  t.equal(m.get('OBX[3]-5'), '', 'missing segment occurrence');
  t.equal(m.get('PID-99'), '');
  t.equal(m.get('nonsense'), '');
  t.same(m.values('PID-3.1'), ['111', '222']);
  t.equal(m.raw('PID-3'), '111^^^A^MR~222^^^B^SS');
  t.equal(m.raw('PID-3[2]'), '222^^^B^SS');
  t.equal(m.raw('PID'), 'PID|1||111^^^A^MR~222^^^B^SS||DOE^JOHN^Q&X&Y||19610615|M');
  t.same(m.segments('OBX').map((s) => s.index), [2, 3]);
  t.equal(m.get('MSH-1'), '|');
  t.equal(m.get('MSH-2'), '^~\\&', 'MSH-2 is returned whole, never split or unescaped');
  t.equal(m.get('MSH-9.2'), 'R01');
  t.same(parseHl7Path('OBX[2]-5.1.2'), { segment: 'OBX', segmentRep: 2, field: 5, component: 1, subcomponent: 2 });
  t.equal(parseHl7Path('PID-0'), undefined, 'indices are 1-based');
  t.equal(formatHl7Path(parseHl7Path('OBX[2]-5[3].1')!), 'OBX[2]-5[3].1');
});

t.test('escape sequences decode on access, in the leaf only', async (t) => {
  const m = ok(`${MSH}\rNTE|1||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f|x\\.br\\y|\\H\\bold\\N\\|\\X4142\\|\\XC3A9\\|\\Q\\|a\\F|cafe\\S\\x^two`);
  t.equal(m.get('NTE-3'), 'a|b^c&d~e\\f');
  t.equal(m.get('NTE-4'), 'x\ny');
  t.equal(m.get('NTE-5'), 'bold', 'highlighting is presentation only');
  t.equal(m.get('NTE-6'), 'AB');
  t.equal(m.get('NTE-7'), 'é', '\\Xhh\\ bytes decoded as UTF-8 when valid');
  t.equal(m.get('NTE-8'), '\\Q\\', 'unknown escape kept literally');
  t.equal(m.get('NTE-9'), 'a\\F', 'unclosed escape kept literally');
  t.equal(m.get('NTE-10.1'), 'cafe^x', 'an escaped delimiter does not split');
  t.equal(m.get('NTE-10.2'), 'two');
  t.equal(m.raw('NTE-3'), 'a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f', 'raw keeps escapes');
  const text = 'a|b^c&d~e\\f\nline';
  t.equal(unescapeHl7(escapeHl7(text, DEFAULT_DELIMITERS), DEFAULT_DELIMITERS), text, 'escape/unescape round-trip');
});

t.test('non-standard delimiters come from MSH-1 and MSH-2', async (t) => {
  const m = ok('MSH#*!$@#A#B#C#D#20240101##ADT*A01#9#P#2.4\rPID#1##X*Y*Z!U*V##last*first@mid##$F$ $S$ $T$ $R$ $E$');
  t.same(m.delimiters, { segment: '\r', field: '#', component: '*', repetition: '!', escape: '$', subcomponent: '@' });
  t.equal(m.header.messageType.trigger, 'A01');
  t.equal(m.get('PID-3[2].2'), 'V');
  t.equal(m.get('PID-5.2.2'), 'mid');
  t.equal(m.get('PID-7'), '# * @ ! $');
  const noTrunc = ok('MSH|^~\\&#|A|B|C|D|20240101||ADT^A01|9|P|2.7\rPID|1||X#Y');
  t.equal(noTrunc.get('PID-3'), 'X#Y', 'a v2.7 truncation character is not a separator');
});

t.test('segment terminators: CR, LF, CRLF and blank lines', async (t) => {
  const body = ['PID|1||A', 'ZPD|custom|fields', 'OBX|1|ST|X||v'];
  for (const [name, sep] of [['CR', '\r'], ['LF', '\n'], ['CRLF', '\r\n']] as const) {
    const m = ok([MSH, ...body].join(sep) + sep + sep);
    t.same(m.segmentNames, ['MSH', 'PID', 'ZPD', 'OBX'], name);
    t.equal(m.get('OBX-5'), 'v', `${name}: no terminator leaks into values`);
  }
  const m = ok(`\r\n${MSH}\r\rPID|1\n\r\nZPD|z\r`);
  t.same(m.segmentNames, ['MSH', 'PID', 'ZPD'], 'leading and blank lines ignored');
  t.equal(m.get('ZPD-1'), 'z', 'Z-segments are kept and addressable');
});

t.test('empty fields versus the HL7 null ""', async (t) => {
  const m = ok(`${MSH}\rPID|1||""||^""^X|`);
  t.equal(m.get('PID-3'), '');
  t.equal(m.presence('PID-3'), 'null', '"" means: delete the receiver\'s value');
  t.equal(m.presence('PID-2'), 'empty');
  t.equal(m.presence('PID-4'), 'empty');
  t.equal(m.presence('PID-5'), 'value');
  t.equal(m.presence('PID-5.2'), 'null');
  t.equal(m.presence('PID-5.1'), 'empty');
  t.equal(m.get('PID-5.3'), 'X');
  t.equal(m.presence('PID-40'), 'empty');
});

t.test('truncated and broken headers give located issues, never throws', async (t) => {
  const cases: Array<[string, string, 'fatal' | 'error' | 'warning']> = [
    ['', 'MSH', 'fatal'],
    ['PID|1', 'MSH', 'fatal'],
    ['MS', 'MSH', 'fatal'],
    ['MSH', 'MSH-1', 'fatal'],
    ['MSH|', 'MSH-2', 'fatal'],
    ['MSHA^~\\&', 'MSH-1', 'fatal'],
    ['MSH|^^\\&|A', 'MSH-2', 'fatal'],
    ['MSH|0~\\&|A', 'MSH-2', 'fatal'],
    ['FHS|^~\\&|A', 'MSH', 'fatal'],
    ['MSH|^~', 'MSH-2', 'warning'],
    ['MSH|^~\\&|A|B', 'MSH-9', 'error'],
    ['MSH|^~\\&|A|B|C|D|1||ADT^A01', 'MSH-10', 'error'],
    [`${MSH}\rpid|1`, 'segment 2', 'error'],
    [`${MSH}\r${MSH}`, 'segment 2', 'error'],
  ];
  for (const [input, where, severity] of cases) {
    const r = parseHl7(input);
    const issue = r.issues.find((i) => i.where === where);
    t.equal(issue?.severity, severity, `${JSON.stringify(input.slice(0, 20))}: ${severity} at ${where}`);
    t.equal(r.ok, severity !== 'fatal');
  }
  const r = parseHl7('MSH|^~\\&|SECRET-APP|B');
  t.notOk(JSON.stringify(r.issues).includes('SECRET'), 'issues never carry values');
});

t.test('bytes: UTF-8 when valid, latin1 otherwise, BOM dropped', async (t) => {
  const utf8 = ok(Buffer.from(`${MSH}\rPID|1||||Müller`, 'utf8'));
  t.equal(utf8.get('PID-5'), 'Müller');
  t.equal(utf8.encoding, 'utf-8');
  const latin1 = ok(Buffer.from(`${MSH}\rPID|1||||Müller`, 'latin1'));
  t.equal(latin1.get('PID-5'), 'Müller');
  t.equal(latin1.encoding, 'latin1');
  const bom = parseHl7(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(MSH)]));
  t.equal(bom.ok, true);
  t.equal(bom.issues[0]?.where, 'MSH');
  t.equal(bom.issues[0]?.severity, 'warning');
});

t.test('doubled escape character (^~\\\\&): split still works, escapes off, warned', async (t) => {
  const r = parseHl7('MSH|^~\\\\&|A|B|C|D|1||ADT^A01|9|P|2.6\rPID|1||X\\Y');
  t.equal(r.ok, true);
  t.ok(r.issues.some((i) => i.where === 'MSH-2' && i.severity === 'warning'));
  if (r.ok) t.equal(r.message.get('PID-3.1.2'), 'Y', 'the declared subcomponent separator splits');
});

t.test('splitBatch: FHS/BHS envelopes, unwrapped runs, counts checked', async (t) => {
  const msg = (id: string): string => `MSH|^~\\&|A|B|C|D|1||ADT^A01|${id}|P|2.5\rPID|1`;
  const batch = ['FHS|^~\\&|A', 'BHS|^~\\&|A', msg('1'), msg('2'), 'BTS|2', 'FTS|1'].join('\r');
  const b = splitBatch(batch);
  t.same(b.messages, [msg('1'), msg('2')]);
  t.same(b.envelope, ['FHS|^~\\&|A', 'BHS|^~\\&|A', 'BTS|2', 'FTS|1']);
  t.same(b.issues, []);
  const wrongCount = splitBatch(batch.replace('BTS|2', 'BTS|3'));
  t.equal(wrongCount.issues[0]?.where, 'BTS-1');
  const run = splitBatch(`${msg('1')}\n\n${msg('2').replace('\r', '\n')}\n`);
  t.same(run.messages.map((m) => ok(m).header.controlId), ['1', '2']);
  const stray = splitBatch(`junk\r${msg('1')}`);
  t.equal(stray.messages.length, 1);
  t.equal(stray.issues[0]?.where, 'batch');
  t.equal(splitBatch('').issues[0]?.code, 'required');
});
