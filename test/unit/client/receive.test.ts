import t from 'tap';
import { parseDelivery, parseInbox, safeName } from '../../../client/receive.js';
import { toWire } from '../../../protocol/crypto/envelope-codec.js';
import { sealEnvelope } from '../../../protocol/crypto/envelope-seal.js';
import { SUITES } from '../../../protocol/crypto/envelope-types.js';
import { generateDeviceKeys } from '../../../protocol/crypto/keys.js';
import { toBase64Url } from '../../../protocol/crypto/base64url.js';

t.test('attachment names from senders cannot leave the message folder', async (t) => {
  t.equal(safeName('../../etc/passwd'), 'passwd');
  t.equal(safeName('..\\..\\windows\\system.ini'), 'system.ini');
  t.equal(safeName('.bashrc'), '_bashrc');
  t.equal(safeName('cr\u0000irm\n.pdf'), 'cr_irm_.pdf');
  t.equal(safeName(''), 'attachment');
  t.equal(safeName('..'), '_');
  t.equal(safeName('compte-rendu IRM.pdf'), 'compte-rendu IRM.pdf');
});

t.test('deliveries as the relay frames them (inbox page and ws frame)', async (t) => {
  const a = await generateDeviceKeys({ xwing: false });
  const b = await generateDeviceKeys({ xwing: false });
  const env = await sealEnvelope({
    suite: SUITES.classic, sender: { participant: 'kine-martin', device: 'pc', sign: a.sign },
    recipients: [{ participant: 'mutuelle-x', device: 'd', x25519: b.x25519.publicKey }], content: { type: 'text', text: 'x' },
  });
  const frame = { type: 'envelope', id: 'dlv-1', accepted: { type: 'accepted', receivedAt: 1234 }, envelope: toWire(env) };
  const d = parseDelivery(frame);
  t.equal(d?.ackId, 'dlv-1');
  t.equal(d?.receivedAt, 1234);
  t.same(d?.envelope.id, env.id);
  t.equal(parseInbox({ messages: [frame, frame] }).length, 2);
  t.equal(parseInbox({ messages: [] }).length, 0);
  t.equal(parseDelivery({ type: 'receipt' }), undefined, 'not an envelope frame');
  const noId = parseDelivery({ envelope: toWire(env) });
  t.equal(noId?.ackId, toBase64Url(env.id), 'ack id defaults to the envelope id');
  t.throws(() => parseDelivery({ envelope: { ...toWire(env), v: 2 } }), { code: 'PSL_ENVELOPE_MALFORMED' });
});
