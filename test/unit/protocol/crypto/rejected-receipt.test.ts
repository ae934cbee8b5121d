import t from 'tap';
import { toBase64Url } from '../../../../protocol/crypto/base64url.js';
import { OPEN_FAILURES } from '../../../../protocol/crypto/envelope-verify.js';
import { cryptoReady } from '../../../../protocol/crypto/primitives.js';
import {
  parseRejectedReceipt, REJECT_REASON_OF, REJECT_REASONS, rejectedReceiptBytes, signRejectedReceipt, verifyRejectedReceipt, type RejectedReceipt,
} from '../../../../protocol/crypto/rejected-receipt.js';

const BODY = {
  type: 'rejected', id: 'AAECAwQFBgcICQoLDA0ODw', sender: 'kine-martin', participant: 'mutuelle-x', device: 'ingest-a',
  reason: 'bad-signature', hash: toBase64Url(new Uint8Array(32).fill(7)), rejectedAt: 1_763_856_000_000,
} as const;

t.test('a device-signed rejection verifies under its key only, and every field is signed', async (t) => {
  const s = await cryptoReady();
  const key = s.crypto_sign_keypair();
  const other = s.crypto_sign_keypair();
  const r = signRejectedReceipt(s, BODY, key);
  t.equal(r.kid.length, 43, 'kid of the signing key');
  t.same(parseRejectedReceipt(JSON.parse(JSON.stringify(r))), r, 'survives JSON');
  t.ok(verifyRejectedReceipt(s, r, key.publicKey));
  t.notOk(verifyRejectedReceipt(s, r, other.publicKey), 'another key: refused');
  t.notOk(verifyRejectedReceipt(s, { ...signRejectedReceipt(s, BODY, other), kid: r.kid }, key.publicKey), 'another key under this kid: refused');
  const changes: Partial<RejectedReceipt>[] = [
    { id: 'AAECAwQFBgcICQoLDA0OEA' }, { sender: 'chu-lyon' }, { participant: 'mutuelle-y' }, { device: 'ingest-b' },
    { reason: 'key-commitment' }, { hash: '' }, { rejectedAt: BODY.rejectedAt + 1 },
  ];
  for (const c of changes) t.notOk(verifyRejectedReceipt(s, { ...r, ...c }, key.publicKey), `changed ${Object.keys(c)[0]}: refused`);
});

t.test('the signed bytes are domain-separated and length-prefixed', async (t) => {
  const kid = toBase64Url(new Uint8Array(32));
  const bytes = rejectedReceiptBytes({ ...BODY, kid });
  t.ok(Buffer.from(bytes).includes(Buffer.from('passerelle/receipt/rejected/v1')), 'domain label');
  // Moving a character between adjacent fields must change the bytes (no concatenation ambiguity).
  t.not(toBase64Url(rejectedReceiptBytes({ ...BODY, participant: 'mutuelle-', device: 'xingest-a', kid })), toBase64Url(bytes));
});

t.test('parse: shape, closed reason list, no extra fields', async (t) => {
  const s = await cryptoReady();
  const r = signRejectedReceipt(s, BODY, s.crypto_sign_keypair());
  t.equal(parseRejectedReceipt({ ...r, reason: 'the patient is Durand' }), undefined, 'free text is not a reason');
  t.equal(parseRejectedReceipt({ ...r, note: 'x' }), undefined, 'extra field');
  t.equal(parseRejectedReceipt({ ...r, rejectedAt: -1 }), undefined);
  t.equal(parseRejectedReceipt({ ...r, device: '../x' }), undefined);
  t.equal(parseRejectedReceipt({ ...r, hash: 'short' }), undefined);
  t.equal(parseRejectedReceipt({ ...r, type: 'delivered' }), undefined);
  t.equal(parseRejectedReceipt([r]), undefined);
  t.ok(parseRejectedReceipt({ ...r, hash: '' }), 'empty hash: the envelope did not decode');
});

t.test('every openEnvelope refusal but replay maps to a reason code', async (t) => {
  for (const f of OPEN_FAILURES) {
    if (f === 'replay') continue;
    t.ok(REJECT_REASONS.includes(REJECT_REASON_OF[f]), f);
  }
  t.equal(REJECT_REASON_OF.signature, 'bad-signature');
  t.equal(REJECT_REASON_OF.commit, 'key-commitment');
  t.equal(REJECT_REASON_OF['not-a-recipient'], 'not-for-me');
});
