import t from 'tap';
import { batchEnvelope } from '../../../../adapters/hl7v2/batch-ack.js';
import { chooseCharset, decodeText, encodeText, resolveCharset, sniffMsh18 } from '../../../../adapters/hl7v2/charset.js';
import { buildAllowList, FeedAuthenticator, normalizeFingerprint, parseSubject } from '../../../../adapters/hl7v2/feed-auth.js';
import { evaluate, MessageTypeFilter, wantsAck } from '../../../../adapters/hl7v2/hl7-evaluate.js';
import type { Socket } from 'node:net';

// What an ACK depends on besides the builder: character set, type filter, enhanced-mode switches,
// the batch envelope and the connection's authentication.

t.test('MSH-18 names map to decoders (table 0211 and common spellings)', async (t) => {
  t.equal(resolveCharset('8859/1'), 'iso-8859-1');
  t.equal(resolveCharset('8859/15'), 'iso-8859-15');
  t.equal(resolveCharset('UNICODE UTF-8'), 'utf8');
  t.equal(resolveCharset('ASCII'), 'latin1');
  t.equal(resolveCharset('cp1252'), 'windows-1252');
  t.equal(resolveCharset('windows-1252'), 'windows-1252');
  t.equal(resolveCharset('UNICODE UTF-16'), undefined, 'UTF-16 cannot be framed by MLLP');
  t.equal(resolveCharset('KLINGON'), undefined);
});

t.test('MSH-18 is read from the bytes before decoding, also behind FHS/BHS', async (t) => {
  t.equal(sniffMsh18(Buffer.from('MSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.5|||||FRA|8859/15~UNICODE UTF-8\rPID|1')), '8859/15');
  t.equal(sniffMsh18(Buffer.from('FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.5|||||FRA|UNICODE UTF-8\r')), 'UNICODE UTF-8');
  t.equal(sniffMsh18(Buffer.from('MSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.5\r')), '');
  t.equal(sniffMsh18(Buffer.from('garbage')), '');
});

t.test('forced > MSH-18 > transport hint > auto (UTF-8 if valid, else windows-1252)', async (t) => {
  const latin = Buffer.from('MSH|^~\\&|H\xf4pital|B|C|D|2026||ADT^A01|1|P|2.5|||||FRA|8859/1\r', 'latin1');
  t.same(chooseCharset(latin), { charset: 'iso-8859-1', source: 'msh-18' });
  t.same(chooseCharset(latin, { forced: 'windows-1252' }), { charset: 'windows-1252', source: 'forced' });
  const undeclared = Buffer.from('MSH|^~\\&|M\xfcller \x80|B\r', 'latin1');
  t.same(chooseCharset(undeclared), { charset: 'windows-1252', source: 'auto' });
  t.equal(decodeText(undeclared, 'windows-1252').slice(9, 17), 'Müller €');
  t.same(chooseCharset(Buffer.from('MSH|^~\\&|Müller|B\r', 'utf8')), { charset: 'utf8', source: 'auto' });
  t.same(chooseCharset(undeclared, { fallback: 'iso-8859-15' }), { charset: 'iso-8859-15', source: 'fallback' });
  const unknown = Buffer.from('MSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.5|||||FRA|EBCDIC\r');
  t.same(chooseCharset(unknown), { charset: 'utf8', source: 'auto', unknownDeclared: true });
  t.same(encodeText('é€', 'windows-1252'), Buffer.from([0xe9, 0x80]));
});

t.test('allowedMessageTypes: exact, wildcard trigger, code only, 200 vs 201', async (t) => {
  const f = new MessageTypeFilter(['ADT^A01', 'ORU^*', 'SIU']);
  t.equal(f.check('ADT', 'A01'), 'ok');
  t.equal(f.check('adt', 'a01'), 'ok');
  t.equal(f.check('ADT', 'A08'), '201', 'known code, trigger not allowed');
  t.equal(f.check('ORU', 'R01'), 'ok');
  t.equal(f.check('SIU', 'S12'), 'ok');
  t.equal(f.check('ORM', 'O01'), '200');
  t.equal(new MessageTypeFilter(undefined).check('ZZZ', 'Z01'), 'ok');
  t.equal(new MessageTypeFilter(['*']).check('ZZZ', 'Z01'), 'ok');
});

t.test('evaluate: enhanced when MSH-15/16 valued (auto), parse errors, inbound ACKs', async (t) => {
  const all = new MessageTypeFilter(undefined);
  const enc = (s: string): Buffer => Buffer.from(s, 'latin1');
  const original = evaluate(enc('MSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.5\rPID|1'), 'latin1', { ackMode: 'auto', types: all });
  t.equal(original.enhanced, false);
  t.same(original.errors, []);
  const enhanced = evaluate(enc('MSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.5|||AL|ER\rPID|1'), 'latin1', { ackMode: 'auto', types: all });
  t.equal(enhanced.enhanced, true);
  t.equal(evaluate(enc('MSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.5|||AL|ER\r'), 'latin1', { ackMode: 'original', types: all }).enhanced, false);
  const broken = evaluate(enc('MSH|^~\\&|A|B|C|D|2026||ADT^A01||P|2.5\rpid|1'), 'latin1', { ackMode: 'auto', types: all });
  t.same(broken.errors.map((e) => [e.where, e.hl7Code]), [['segment 2', '100'], ['MSH-10', '101']]);
  t.equal(evaluate(enc('MSH|^~\\&|A|B|C|D|2026||ACK^A01|1|P|2.5\rMSA|CA|9'), 'latin1', { ackMode: 'auto', types: all }).isAck, true);
  const none = evaluate(enc('hello'), 'latin1', { ackMode: 'auto', types: all });
  t.equal(none.header, undefined);
  t.equal(none.errors[0]?.hl7Code, '100');
  const refused = evaluate(enc('MSH|^~\\&|A|B|C|D|2026||ORU^R01|1|P|2.5\r'), 'latin1', { ackMode: 'auto', types: new MessageTypeFilter(['ADT^*']) });
  t.same(refused.refusal && [refused.refusal.where, refused.refusal.hl7Code, refused.refusal.appCode], ['MSH-9.1', '200', 'PSL_FORBIDDEN']);
});

t.test('MSH-15/16 (table 0155): AL, NE, ER, SU', async (t) => {
  t.same([wantsAck('AL', true, 'NE'), wantsAck('NE', true, 'AL'), wantsAck('ER', true, 'AL'), wantsAck('ER', false, 'AL'), wantsAck('SU', true, 'NE'), wantsAck('SU', false, 'NE')],
    [true, false, false, true, true, false]);
  t.equal(wantsAck('', true, 'AL'), true, 'empty MSH-15 in forced enhanced mode still gets the commit ACK');
  t.equal(wantsAck('', true, 'NE'), false, 'empty MSH-16: no application ACK');
});

t.test('batch response mirrors FHS/BHS and counts in BTS/FTS', async (t) => {
  const out = batchEnvelope(
    ['FHS|^~\\&|LAB|SITE|GW|GWF|2026||||F1', 'BHS|^~\\&|LAB|SITE|GW|GWF|2026||||B1', 'BTS|2', 'FTS|1'],
    [Buffer.from('MSH|ack1'), Buffer.from('MSH|ack2')],
    { now: new Date('2026-01-02T03:04:05Z'), controlId: 'B123', encode: (s) => Buffer.from(s, 'latin1') },
  ).toString('latin1').split('\r');
  t.same(out, [
    'FHS|^~\\&|GW|GWF|LAB|SITE|20260102030405+0000||||F123|F1',
    'BHS|^~\\&|GW|GWF|LAB|SITE|20260102030405+0000||||B123|B1',
    'MSH|ack1', 'MSH|ack2', 'BTS|2', 'FTS|1',
  ]);
  const plain = batchEnvelope([], [Buffer.from('MSH|a'), Buffer.from('MSH|b')], { now: new Date(), controlId: 'B1', encode: (s) => Buffer.from(s) });
  t.equal(plain.toString(), 'MSH|a\rMSH|b', 'unwrapped messages get unwrapped ACKs');
});

t.test('feed authentication: allow-list, pinned certificate, insecure', async (t) => {
  const owner = { participant: 'chu-lyon', kind: 'hospital' as const };
  const sock = (remoteAddress: string, extra: object = {}): Socket => ({ remoteAddress, ...extra }) as unknown as Socket;
  const byAddr = new FeedAuthenticator({ owner, allowFrom: ['10.0.0.0/8', '127.0.0.1'] });
  t.same(byAddr.authorize(sock('::ffff:127.0.0.1')), { ok: true, caller: owner, via: 'address' });
  t.equal(byAddr.authorize(sock('10.2.3.4')).ok, true);
  t.match(byAddr.authorize(sock('192.0.2.1')), { ok: false, code: 'PSL_FORBIDDEN' });
  t.match(new FeedAuthenticator({ owner }).authorize(sock('127.0.0.1')), { ok: false, code: 'PSL_AUTH_REQUIRED' }, 'nothing configured and not insecure');
  t.match(new FeedAuthenticator({ owner, insecure: true }).authorize(sock('127.0.0.1')), { ok: true, via: 'insecure' });
  const fp = 'AB:'.repeat(31) + 'AB';
  const byCert = new FeedAuthenticator({ owner, clientFingerprints: [fp.toLowerCase().replace(/:/g, '')], clientSubjects: ['CN=chu-lyon, O=CHU'] });
  const tls = (authorized: boolean, cert: object): Socket => sock('127.0.0.1', { authorized, getPeerCertificate: () => cert });
  t.match(byCert.authorize(tls(true, { fingerprint256: fp, subject: { CN: 'x' } })), { ok: true, via: 'certificate' });
  t.match(byCert.authorize(tls(true, { fingerprint256: 'CD', subject: { CN: 'chu-lyon', O: 'CHU' } })), { ok: true });
  t.match(byCert.authorize(tls(true, { fingerprint256: 'CD', subject: { CN: 'labo-bioplus', O: 'CHU' } })), { ok: false, code: 'PSL_FORBIDDEN' });
  t.match(byCert.authorize(tls(false, { fingerprint256: fp })), { ok: false, code: 'PSL_AUTH_INVALID' }, 'a pinned cert that does not chain is refused');
  t.match(byCert.authorize(tls(true, {})), { ok: false, code: 'PSL_AUTH_REQUIRED' });
  t.match(byCert.authorize(sock('127.0.0.1')), { ok: false, code: 'PSL_AUTH_REQUIRED' }, 'plaintext socket on a certificate feed');
  t.equal(normalizeFingerprint('AB:cd'), 'abcd');
  t.same(parseSubject('CN=a, O=b'), [['CN', 'a'], ['O', 'b']]);
  t.throws(() => buildAllowList(['example.org']), /entry 0/);
});
