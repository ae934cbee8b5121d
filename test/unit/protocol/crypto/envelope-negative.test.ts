// One negative test per recipient check (ENVELOPE.md §3 "Recipient procedure"), for both suites.
// Outer tampering by a third party is caught by the signature; the deeper checks are also driven
// by a malicious *sender* who re-signs what it tampered with.
import t from 'tap';
import { sealEnvelope } from '../../../../protocol/crypto/envelope-seal.js';
import { openEnvelope, type OpenOptions } from '../../../../protocol/crypto/envelope-open.js';
import { verifyOuter, MemoryReplayCache, OPEN_FAILURES, type OpenFailure, type SenderDevice } from '../../../../protocol/crypto/envelope-verify.js';
import type { Envelope } from '../../../../protocol/crypto/envelope-types.js';
import { cryptoReady } from '../../../../protocol/crypto/primitives.js';
import { encodeEnvelope } from '../../../../protocol/crypto/envelope-codec.js';
import { toBase64Url } from '../../../../protocol/crypto/base64url.js';
import { ALL_SUITES, DAY, device, directory, flip, NOW, type Device } from './fixtures.js';
import { craft, resign } from './craft.js';

const s = await cryptoReady();
const sender = await device('chu-lyon', 'his-01');
const a = await device('mutuelle-x', 'ingest-a');
const b = await device('mutuelle-x', 'ingest-b');
const c = await device('labo-bio', 'lims-1');
const lookup = directory([sender]);

function opts(who: Device, over: Partial<OpenOptions> = {}): OpenOptions {
  return { suites: ALL_SUITES, senderLookup: lookup, replay: new MemoryReplayCache(), recipient: who.opening, receivedAt: NOW, now: NOW + 1000, ...over };
}

async function reason(env: Envelope, who: Device, over: Partial<OpenOptions> = {}): Promise<OpenFailure | 'ok'> {
  const r = await openEnvelope(env, opts(who, over));
  return r.ok ? 'ok' : r.reason;
}

const withRecord = (over: Partial<SenderDevice>) => directory([{ ...sender, record: { ...sender.record, ...over } }]);

for (const suite of ALL_SUITES) {
  const seal = (): Promise<Envelope> => sealEnvelope({
    suite, sender: sender.asSender, recipients: [a.asRecipient, b.asRecipient], now: NOW, content: { type: 'text', body: 'x' },
  });

  t.test(`${suite}: steps 1–4`, async (t) => {
    const env = await seal();
    t.equal(await reason(env, a), 'ok', 'control: the untouched envelope opens');
    const other = ALL_SUITES.filter((x) => x !== suite);
    t.equal(await reason(env, a, { suites: other }), 'suite', 'suite outside the allow-list');
    t.equal(await reason(env, a, { senderLookup: () => undefined }), 'sender-unknown', 'kid not in the directory');
    t.equal(await reason(env, a, { senderLookup: withRecord({ sigKey: c.keys.sign.publicKey }) }), 'sender-unknown', 'directory key does not hash to from.kid');
    t.equal(await reason(env, a, { senderLookup: withRecord({ revokedAt: NOW - 1 }) }), 'sender-revoked', 'revoked before receive time');
    t.equal(await reason(env, a, { senderLookup: withRecord({ revokedAt: NOW + DAY }) }), 'ok', 'revoked only after receive time');
    t.equal(await reason(env, a, { senderLookup: withRecord({ notAfter: NOW - 1 }) }), 'sender-expired', 'device cert expired at receive time');
    t.equal(await reason(env, a, { senderLookup: withRecord({ notBefore: NOW + 1 }) }), 'sender-expired', 'device cert not yet valid');
    t.equal(await reason({ ...env, sig: flip(env.sig, 5) }, a), 'signature', 'bit flip in sig');
    t.equal(await reason(env, a, { now: NOW + 31 * DAY }), 'expired', 'older than the TTL');
    t.equal(await reason(env, a, { now: NOW + 30 * DAY - 1, maxTtlMs: DAY }), 'expired', 'older than a stricter TTL');
    t.equal(await reason(env, a, { now: NOW - 5 * 60 * 1000 - 1 }), 'future', 'ts more than 5 min ahead');
    t.equal(await reason(env, a, { now: NOW - 5 * 60 * 1000 }), 'ok', 'ts exactly 5 min ahead');
    const cache = new MemoryReplayCache();
    t.equal(await reason(env, a, { replay: cache }), 'ok');
    t.equal(await reason(env, a, { replay: cache }), 'replay', 'same (sender, id) twice');
    const v = await verifyOuter({ ...env, sig: flip(env.sig, 40) }, lookup, { suites: ALL_SUITES, receivedAt: NOW, now: NOW });
    t.same(v, { ok: false, reason: 'signature' }, 'verifyOuter refuses too');
    const wire = encodeEnvelope(env);
    t.equal((await verifyOuter(wire, lookup, { suites: ALL_SUITES, receivedAt: NOW, now: NOW })).ok, true, 'verifyOuter on wire bytes');
    await t.rejects(verifyOuter(wire.subarray(0, 50), lookup, { suites: ALL_SUITES, receivedAt: NOW, now: NOW }), { code: 'PSL_ENVELOPE_MALFORMED' });
  });

  t.test(`${suite}: every outer byte is covered by the signature`, async (t) => {
    const env = await seal();
    const cases: [string, Envelope][] = [
      ['wrap[0]', { ...env, to: env.to.map((r, i) => (i === 0 ? { ...r, wrap: flip(r.wrap, 7) } : r)) }],
      ['wrap[1]', { ...env, to: env.to.map((r, i) => (i === 1 ? { ...r, wrap: flip(r.wrap, -1) } : r)) }],
      ['commit', { ...env, commit: flip(env.commit, 3) }],
      ['nonce', { ...env, nonce: flip(env.nonce, 0) }],
      ['payload', { ...env, payload: flip(env.payload, 100) }],
      ['class', { ...env, class: 'receipt' }],
      ['expires', { ...env, expires: env.expires + 1 }],
      ['to[0].device', { ...env, to: env.to.map((r, i) => (i === 0 ? { ...r, device: 'other' } : r)) }],
      ['dropped recipient', { ...env, to: env.to.slice(0, 1) }],
    ];
    for (const [what, bad] of cases) {
      const who = env.to[0]!.device === a.device ? a : b;
      t.equal(await reason(bad, who), 'signature', `bit flip / edit in ${what}`);
    }
  });

  t.test(`${suite}: steps 5–7 against a sender who re-signs`, async (t) => {
    const env = await seal();
    const ia = env.to.findIndex((r) => r.device === a.device);
    const ib = 1 - ia;
    for (const [i, who, other] of [[ia, a, b], [ib, b, a]] as const) {
      const bad = await resign({ ...env, to: env.to.map((r, j) => (j === i ? { ...r, wrap: flip(r.wrap, 60) } : r)) }, sender);
      t.equal(await reason(bad, who), 'wrap', `bit flip in wrap of ${who.device}`);
      t.equal(await reason(bad, other), 'ok', `${other.device} is unaffected`);
    }
    t.equal(await reason(await resign({ ...env, commit: flip(env.commit, 31) }, sender), a), 'commit', 'bit flip in commit');
    t.equal(await reason(await resign({ ...env, nonce: flip(env.nonce, 23) }, sender), a), 'payload', 'bit flip in nonce');
    t.equal(await reason(await resign({ ...env, payload: flip(env.payload, 0) }, sender), a), 'payload', 'bit flip in payload');
    t.equal(await reason(await resign({ ...env, payload: env.payload.subarray(0, env.payload.length - 256) }, sender), a), 'payload', 'truncated payload');
    t.equal(await reason(env, c), 'not-a-recipient', 'device not in to[]');
    const relabelled = await resign({ ...env, to: env.to.map((r, j) => (j === ia ? { ...r, device: 'ingest-z' } : r)) }, sender);
    t.equal(await reason(relabelled, a), 'not-a-recipient', 'own kid under another device label');
    t.equal(await reason(env, a, { recipient: { ...a.opening, keys: [] } }), 'not-a-recipient', 'old key deleted after the TTL');
  });

  t.test(`${suite}: a wrap pasted from another envelope`, async (t) => {
    const one = await seal();
    const two = await seal();
    const ia = one.to.findIndex((r) => r.device === a.device);
    const pasted = { ...one, to: one.to.map((r, j) => (j === ia ? { ...r, wrap: two.to.find((x) => x.device === a.device)!.wrap } : r)) };
    t.equal(await reason(pasted, a), 'signature', 'by the gateway: the signature breaks');
    t.equal(await reason(await resign(pasted, sender), a), 'wrap', 'by the sender: the id bound in the wrap differs');
    // Same K wrapped under another id: the wrap binds the id, so even the right key is refused.
    const k = s.crypto_aead_xchacha20poly1305_ietf_keygen();
    const crafted = await craft({ suite, sender, k, to: [{ dev: a, wrapId: s.randombytes_buf(16) }, { dev: b }] });
    t.equal(await reason(crafted, a), 'wrap', 'wrap bound to a different id');
    t.equal(await reason(crafted, b), 'ok');
  });

  t.test(`${suite}: malicious sender wraps a different content key per recipient`, async (t) => {
    const k1 = s.crypto_aead_xchacha20poly1305_ietf_keygen();
    const k2 = s.crypto_aead_xchacha20poly1305_ietf_keygen();
    // Payload and commit under K1; b's wrap holds K2. The signature is valid for everyone.
    const env = await craft({ suite, sender, k: k1, to: [{ dev: a }, { dev: b, k: k2 }] });
    t.equal((await verifyOuter(env, lookup, { suites: ALL_SUITES, receivedAt: NOW, now: NOW })).ok, true, 'the signature does not prevent it');
    t.equal(await reason(env, a), 'ok', 'a reads the K1 plaintext');
    t.equal(await reason(env, b), 'commit', 'b detects the split before decrypting');
    // Committing to K2 instead just moves the failure to a.
    const env2 = await craft({ suite, sender, k: k1, commitKey: k2, to: [{ dev: a }, { dev: b, k: k2 }] });
    t.equal(await reason(env2, a), 'commit');
    t.equal(await reason(env2, b), 'payload', 'K2 matches the commit but does not open the K1 payload');
  });

  t.test(`${suite}: inner/outer mismatch under a valid signature`, async (t) => {
    const cases: [string, (i: Record<string, unknown>) => Record<string, unknown>][] = [
      ['id', (i) => ({ ...i, id: toBase64Url(s.randombytes_buf(16)) })],
      ['ts', (i) => ({ ...i, ts: (i.ts as number) - 1 })],
      ['from.participant', (i) => ({ ...i, from: { participant: 'clinique-y', device: 'his-01' } })],
      ['from.device', (i) => ({ ...i, from: { participant: 'chu-lyon', device: 'his-02' } })],
      ['to (extra participant)', (i) => ({ ...i, to: [...(i.to as string[]), 'mutuelle-z'] })],
      ['to (missing participant)', (i) => ({ ...i, to: [] })],
    ];
    for (const [what, edit] of cases) {
      const env = await craft({ suite, sender, to: [{ dev: a }, { dev: c }], inner: edit });
      t.equal(await reason(env, a), 'inner-mismatch', `inner ${what} differs from outer`);
    }
    const noType = await craft({ suite, sender, to: [{ dev: a }], inner: ({ type: _t, ...i }) => i });
    t.equal(await reason(noType, a), 'payload', 'inner without a type is not a valid inner plaintext');
    const extraAtt = await craft({ suite, sender, to: [{ dev: a }], inner: (i) => ({ ...i, attachments: [{ ref: 'att_x' }] }) });
    t.equal(await reason(extraAtt, a), 'attachment', 'inner attachment not in the signed outer list');
  });
}

t.test('the failure list is what the relay and tests switch on', async (t) => {
  t.same([...OPEN_FAILURES], [
    'suite', 'sender-unknown', 'sender-revoked', 'sender-expired', 'signature', 'expired', 'future', 'replay',
    'not-a-recipient', 'wrap', 'commit', 'payload', 'inner-mismatch', 'attachment',
  ]);
});
