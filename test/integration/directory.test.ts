import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBase64Url, toBase64Url } from '../../protocol/crypto/base64url.js';
import { cryptoReady } from '../../protocol/crypto/primitives.js';
import { ed25519Sign } from '../../protocol/crypto/signature.js';
import { revokeSignedBytes, rotateSignedBytes, signDeviceCert } from '../../protocol/device-cert.js';
import { verifyInclusion, type InclusionProof, type LogEntry, type SignedHead } from '../../protocol/directory-log.js';
import { vectors } from '../helpers/corpus.js';
import { makeDevice, registerDevice, startMessagingGateway, type MessagingGateway } from './relay-fixture.js';

interface CctvVector { key: string; flags: string[] | null }

let gw: MessagingGateway;
t.before(async () => {
  gw = await startMessagingGateway({ store: 'lmdb' });
});
t.teardown(() => gw.cleanup());

const post = (p: Parameters<MessagingGateway['as']>[0], path: string, body: unknown): Promise<Response> =>
  gw.as(p, path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

t.test('registration accepts a well-formed certificate signed by the identity key', async (t) => {
  const d = await makeDevice(gw, 'kine-martin', 'laptop');
  const res = await post('kine-martin', '/v1/devices', d.body);
  t.equal(res.status, 201);
  const out = await res.json() as { entry: LogEntry; proof: InclusionProof; head: SignedHead };
  t.equal(out.entry.type, 'add-device');
  t.equal(out.proof.seq, out.entry.seq);
});

t.test('registration refusals: small-order, wrong length, bad signature, expired, too long, other participant', async (t) => {
  const s = await cryptoReady();
  const cctv = JSON.parse(readFileSync(join(vectors('cctv'), 'ed25519vectors.json'), 'utf8')) as CctvVector[];
  const smallOrder = cctv.find((v) => v.flags?.includes('low_order_A'))!;
  const mixedOrder = cctv.find((v) => v.flags?.includes('low_order_component_A') && !v.flags.includes('low_order_A'))!;
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['small-order sigKey (CCTV)', { sigKey: Uint8Array.from(Buffer.from(smallOrder.key, 'hex')) }, 'sig-key'],
    ['mixed-order sigKey (CCTV)', { sigKey: Uint8Array.from(Buffer.from(mixedOrder.key, 'hex')) }, 'sig-key'],
    ['all-zero X25519 key', { encKeyX25519: new Uint8Array(32) }, 'x25519-key'],
    ['31-byte sigKey', { sigKey: new Uint8Array(31).fill(7) }, 'sig-key'],
    ['1215-byte X-Wing key', { encKeyXWing: new Uint8Array(1215).fill(1) }, 'xwing-key'],
    ['expired', { notBefore: Date.now() - 10 * 86400_000, notAfter: Date.now() - 86400_000 }, 'expired'],
    ['validity over 30 days', { notBefore: Date.now(), notAfter: Date.now() + 31 * 86400_000 }, 'validity'],
  ];
  for (const [name, overrides, reason] of cases) {
    const d = await makeDevice(gw, 'kine-martin', 'bad-device', overrides);
    const res = await post('kine-martin', '/v1/devices', d.body);
    t.equal(res.status, 400, name);
    t.match(await res.json(), { error: { code: 'PSL_BAD_REQUEST', reason } }, name);
  }
  const good = await makeDevice(gw, 'kine-martin', 'bad-sig');
  const forged = { ...good.body, sig: toBase64Url(signDeviceCert(s, good.cert, gw.identities['mutuelle-x'].privateKey)) };
  const res = await post('kine-martin', '/v1/devices', forged);
  t.match(await res.json(), { error: { reason: 'signature' } }, 'signed by another identity key');
  const other = await post('mutuelle-x', '/v1/devices', good.body);
  t.equal(other.status, 403, 'a participant registers only its own devices');
  const missing = await post('kine-martin', '/v1/devices', { cert: good.body.cert });
  t.equal(missing.status, 400);
  const dir = await (await gw.as('kine-martin', '/v1/directory/kine-martin')).json() as { devices: Array<{ entry: { cert: { deviceId: string } } }> };
  t.notOk(dir.devices.some((d) => ['bad-device', 'bad-sig'].includes(d.entry.cert.deviceId)), 'nothing refused was logged');
});

t.test('directory view: every device entry proves its position against the signed head', async (t) => {
  const s = await cryptoReady();
  await registerDevice(gw, 'mutuelle-x', 'ingest-a');
  await registerDevice(gw, 'mutuelle-x', 'ingest-b');
  const pinned = fromBase64Url(((await (await gw.as('kine-martin', '/v1/messaging')).json()) as { directoryKey: string }).directoryKey)!;
  const view = await (await gw.as('kine-martin', '/v1/directory/mutuelle-x')).json() as {
    identityKey: string; identity: { entry: LogEntry; proof: InclusionProof };
    devices: Array<{ entry: LogEntry; proof: InclusionProof }>; head: SignedHead;
  };
  t.equal(view.identityKey, toBase64Url(gw.identities['mutuelle-x'].publicKey));
  t.equal(view.devices.length, 2);
  t.ok(verifyInclusion(s, view.identity.entry, view.identity.proof, view.head, pinned), 'identity entry');
  for (const d of view.devices) t.ok(verifyInclusion(s, d.entry, d.proof, view.head, pinned), `device ${d.proof.seq}`);
  // Tampering with any part fails: the certificate, the path, the head, or the pinned key.
  const dev = view.devices[0]!;
  const tamperedCert = { ...dev.entry, cert: { ...(dev.entry as unknown as { cert: Record<string, unknown> }).cert, notAfter: 1 } } as LogEntry;
  t.notOk(verifyInclusion(s, tamperedCert, dev.proof, view.head, pinned), 'certificate changed');
  if (dev.proof.path.length > 0) t.notOk(verifyInclusion(s, dev.entry, { ...dev.proof, path: dev.proof.path.slice(1) }, view.head, pinned), 'path shortened');
  t.notOk(verifyInclusion(s, dev.entry, dev.proof, { ...view.head, time: view.head.time + 1 }, pinned), 'head time changed');
  t.notOk(verifyInclusion(s, dev.entry, dev.proof, view.head, gw.identities['ops'].publicKey), 'other directory key');
  const unknown = await gw.as('kine-martin', '/v1/directory/nobody');
  t.equal(unknown.status, 404);
});

t.test('rotation replaces a certificate; a replayed older one is refused', async (t) => {
  const first = await makeDevice(gw, 'chu-lyon', 'his-01', { notBefore: Date.now() - 60_000 });
  t.equal((await post('chu-lyon', '/v1/devices', first.body)).status, 201);
  const second = await makeDevice(gw, 'chu-lyon', 'his-01');
  t.equal((await post('chu-lyon', '/v1/devices', second.body)).status, 201);
  const replay = await post('chu-lyon', '/v1/devices', first.body);
  t.equal(replay.status, 409);
  t.match(await replay.json(), { error: { reason: 'stale' } });
  const view = await (await gw.as('chu-lyon', '/v1/directory/chu-lyon')).json() as { devices: Array<{ entry: { cert: { sigKey: string } } }> };
  t.same(view.devices.map((d) => d.entry.cert.sigKey), [toBase64Url(second.cert.sigKey)]);
});

t.test('revocation needs the identity signature and is logged once', async (t) => {
  const s = await cryptoReady();
  await registerDevice(gw, 'labo-bioplus', 'lis-1');
  const time = Date.now();
  const bad = await post('labo-bioplus', '/v1/devices/lis-1/revoke', { time, sig: toBase64Url(ed25519Sign(s, revokeSignedBytes({ participant: 'labo-bioplus', deviceId: 'lis-1', time }), gw.identities['chu-lyon'].privateKey)) });
  t.equal(bad.status, 400);
  const body = { time, sig: toBase64Url(ed25519Sign(s, revokeSignedBytes({ participant: 'labo-bioplus', deviceId: 'lis-1', time }), gw.identities['labo-bioplus'].privateKey)) };
  t.equal((await post('chu-lyon', '/v1/devices/lis-1/revoke', body)).status, 404, 'another participant cannot revoke it');
  const ok = await post('labo-bioplus', '/v1/devices/lis-1/revoke', body);
  t.equal(ok.status, 201);
  const again = await post('labo-bioplus', '/v1/devices/lis-1/revoke', body);
  t.equal(((await again.json()) as { entry: LogEntry }).entry.seq, ((await ok.json()) as { entry: LogEntry }).entry.seq, 'same entry');
  const reg = await makeDevice(gw, 'labo-bioplus', 'lis-1');
  const res = await post('labo-bioplus', '/v1/devices', reg.body);
  t.match(await res.json(), { error: { reason: 'revoked' } }, 'a revoked device id cannot come back');
  const view = await (await gw.as('labo-bioplus', '/v1/directory/labo-bioplus')).json() as { devices: unknown[]; revoked: unknown[] };
  t.equal(view.devices.length, 0);
  t.equal(view.revoked.length, 1);
});

t.test('start is refused when a configured identity key changed without a rotation entry', async (t) => {
  const s = await cryptoReady();
  await gw.stop();
  const path = join(gw.dir, 'participants.yaml');
  const original = readFileSync(path, 'utf8');
  const oldKey = toBase64Url(gw.identities['kine-martin'].publicKey);
  const intruder = s.crypto_sign_keypair();
  writeFileSync(path, original.replace(oldKey, toBase64Url(intruder.publicKey)));
  t.comment(String(await gw.restart().catch((e: Error) => e.message)));
  await t.rejects(gw.restart(), { code: 'PSL_CONFIG_INVALID', message: /participants\.yaml:\d+:\d+ participants\[2\]\.identityKey: identity key of participant kine-martin differs from the directory log/ });
  t.notMatch(String(await gw.restart().catch((e: Error) => e.message)), toBase64Url(intruder.publicKey), 'the error never prints a key');

  // A rotation signed by the old and the new key makes the new key the logged one.
  writeFileSync(path, original);
  await gw.restart();
  const time = Date.now();
  const signed = rotateSignedBytes({ participant: 'kine-martin', oldKey: gw.identities['kine-martin'].publicKey, newKey: intruder.publicKey, time });
  const rot = await post('kine-martin', '/v1/directory/rotate-identity', {
    newKey: toBase64Url(intruder.publicKey), time,
    sigOld: toBase64Url(ed25519Sign(s, signed, gw.identities['kine-martin'].privateKey)), sigNew: toBase64Url(ed25519Sign(s, signed, intruder.privateKey)),
  });
  t.equal(rot.status, 201);
  await gw.stop();
  await t.rejects(gw.restart(), { code: 'PSL_CONFIG_INVALID' }, 'the old key in config is now the stale one');
  writeFileSync(path, original.replace(oldKey, toBase64Url(intruder.publicKey)));
  await gw.restart();
  gw.identities['kine-martin'] = { publicKey: intruder.publicKey, privateKey: intruder.privateKey };
  t.ok((await gw.as('kine-martin', '/v1/directory/kine-martin')).ok, 'started with the rotated key');
});
