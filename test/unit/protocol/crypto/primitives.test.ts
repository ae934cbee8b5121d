// Building blocks: base64url, PAE, sizes, key checks, kid, safety numbers, seal input checks.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { fromBase64Url, fromBase64UrlPortable, toBase64Url, toBase64UrlPortable } from '../../../../protocol/crypto/base64url.js';
import { be64, le64, pae } from '../../../../protocol/crypto/pae.js';
import { cryptoReady, SIZES, SODIUM_FUNCTIONS } from '../../../../protocol/crypto/primitives.js';
import { checkEd25519PublicKey, checkX25519PublicKey, checkXWingPublicKey, generateDeviceKeys, kidOf } from '../../../../protocol/crypto/keys.js';
import { formatSafetyNumber, safetyNumber } from '../../../../protocol/crypto/safety-number.js';
import { sealEnvelope } from '../../../../protocol/crypto/envelope-seal.js';
import { SUITES, LIMITS } from '../../../../protocol/crypto/envelope-types.js';
import { openEnvelope } from '../../../../protocol/crypto/envelope-open.js';
import { MemoryReplayCache } from '../../../../protocol/crypto/envelope-verify.js';
import { device, directory, NOW } from './fixtures.js';

const s = await cryptoReady();
const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

t.test('base64url matches Node for every length and refuses non-canonical text', async (t) => {
  for (let n = 0; n < 70; n++) {
    const b = randomBytes(n);
    const enc = toBase64Url(b);
    t.equal(enc, b.toString('base64url'));
    t.same(fromBase64Url(enc), new Uint8Array(b));
    t.equal(toBase64UrlPortable(b), enc, 'portable encoder agrees');
    t.same(fromBase64UrlPortable(enc), new Uint8Array(b), 'portable decoder agrees');
  }
  for (const bad of ['A', 'AB=', 'AB==', 'A+B', 'A/B', 'AB C', 'AÉ', 'AB\n', 'AR', 'AAB']) {
    t.equal(fromBase64Url(bad), undefined, JSON.stringify(bad));
    t.equal(fromBase64UrlPortable(bad), undefined, `portable ${JSON.stringify(bad)}`);
  }
  t.same(fromBase64Url(''), new Uint8Array(0));
});

t.test('PAE and 64-bit encodings', async (t) => {
  t.same(pae([]), le64(0));
  // PASETO's published vector for PAE(['']) and PAE(['test']).
  t.equal(Buffer.from(pae([''])).toString('hex'), '01000000000000000000000000000000');
  t.equal(Buffer.from(pae(['test'])).toString('hex'), '0100000000000000040000000000000074657374');
  t.equal(Buffer.from(be64(0x0102030405)).toString('hex'), '0000000102030405');
  t.equal(Buffer.from(le64(0x0102030405)).toString('hex'), '0504030201000000');
  t.notSame(pae(['ab', 'c']), pae(['a', 'bc']), 'boundaries are unambiguous');
  t.throws(() => be64(-1));
  t.throws(() => le64(2 ** 53));
});

t.test('sizes agree with libsodium and every function is present', async (t) => {
  t.equal(SIZES.xwingPublicKey, s.crypto_kem_xwing_PUBLICKEYBYTES);
  t.equal(SIZES.xwingCiphertext, s.crypto_kem_xwing_CIPHERTEXTBYTES);
  t.equal(SIZES.sealOverhead, s.crypto_box_SEALBYTES);
  t.equal(SIZES.xnonce, s.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  t.equal(SIZES.sig, s.crypto_sign_BYTES);
  const table = s as unknown as Record<string, unknown>;
  t.same(SODIUM_FUNCTIONS.filter((f) => typeof table[f] !== 'function'), []);
});

t.test('device keys and registration checks', async (t) => {
  const k = await generateDeviceKeys();
  t.equal(k.xwing?.publicKey.length, 1216);
  t.same(k.sign.kid, s.crypto_generichash(32, k.sign.publicKey, null), 'kid = BLAKE2b-256(pk)');
  t.same(kidOf(s, k.xwing!.publicKey), k.xwing!.kid);
  t.equal((await generateDeviceKeys({ xwing: false })).xwing, undefined);
  t.same(checkEd25519PublicKey(s, k.sign.publicKey), { ok: true });
  t.same(checkX25519PublicKey(s, k.x25519.publicKey), { ok: true });
  t.same(checkXWingPublicKey(s, k.xwing!.publicKey), { ok: true });
  // CCTV README low-order Ed25519 encodings, canonical and not.
  for (const h of [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  ]) t.same(checkEd25519PublicKey(s, hex(h)), { ok: false, reason: 'not-on-curve-or-small-order' }, `ed25519 ${h.slice(0, 8)}…`);
  t.same(checkEd25519PublicKey(s, new Uint8Array(31)), { ok: false, reason: 'length' });
  for (const h of [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ]) t.same(checkX25519PublicKey(s, hex(h)), { ok: false, reason: 'low-order' }, `x25519 ${h.slice(0, 8)}…`);
  t.same(checkXWingPublicKey(s, new Uint8Array(1215)), { ok: false, reason: 'length' });
  const zeroTail = Uint8Array.from(k.xwing!.publicKey);
  zeroTail.fill(0, 1184);
  t.same(checkXWingPublicKey(s, zeroTail), { ok: false, reason: 'low-order' }, 'X-Wing with a low-order X25519 part');
});

t.test('safety number', async (t) => {
  const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
  const ab = await safetyNumber([a, b]);
  t.match(ab, /^\d{60}$/);
  t.equal(await safetyNumber([b, a]), ab, 'order does not matter');
  t.not(await safetyNumber([a, c]), ab);
  const a2 = Uint8Array.from(a);
  a2[31] = a2[31]! ^ 1;
  t.not(await safetyNumber([a2, b]), ab, 'one bit of one key changes it');
  t.match(formatSafetyNumber(ab), /^(\d{5} ){11}\d{5}$/);
  await t.rejects(safetyNumber([a]), { code: 'PSL_BAD_REQUEST' });
  // Known answer, so an accidental change of the derivation shows up.
  t.equal(await safetyNumber([new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]), KAT);
});
// Computed independently with Python hashlib.blake2b from the derivation in safety-number.ts.
const KAT = '408818851347180379397259998476893390587801528168014169429024';

t.test('seal refuses unusable input', async (t) => {
  const sender = await device('chu-lyon', 'his-01');
  const a = await device('mutuelle-x', 'ingest-a');
  const base = { sender: sender.asSender, now: NOW, content: { type: 'text' } };
  const classicOnly = { participant: 'x', device: 'y', x25519: a.keys.x25519.publicKey };
  await t.rejects(sealEnvelope({ ...base, suite: SUITES.hybrid, recipients: [a.asRecipient, classicOnly] }), { code: 'PSL_BAD_REQUEST', message: 'recipients[1]: no encryption key for this suite' }, 'no classic wrap inside a hybrid envelope');
  await t.rejects(sealEnvelope({ ...base, suite: SUITES.classic, recipients: [] }), { code: 'PSL_BAD_REQUEST' });
  await t.rejects(sealEnvelope({ ...base, suite: SUITES.classic, recipients: [a.asRecipient, a.asRecipient] }), { code: 'PSL_BAD_REQUEST', message: 'recipients: same device key listed twice' });
  await t.rejects(sealEnvelope({ ...base, suite: SUITES.classic, recipients: [a.asRecipient], content: { type: 'text', body: 'x'.repeat(LIMITS.maxInnerBytes) } }), { code: 'PSL_PAYLOAD_TOO_LARGE' });
  const env = await sealEnvelope({ ...base, suite: SUITES.classic, recipients: [a.asRecipient], content: { type: 'text', id: 'forged', to: ['nobody'] } });
  const opened = await openEnvelope(env, {
    suites: [SUITES.classic], senderLookup: directory([sender]), replay: new MemoryReplayCache(), recipient: a.opening, receivedAt: NOW, now: NOW,
  });
  t.equal(opened.ok, true, 'content cannot override id/to: the envelope still opens');
  if (opened.ok) t.same([opened.inner.id, opened.inner.to], [toBase64Url(env.id), ['mutuelle-x']]);
});
