/**
 * The directory serves earlier certificates and revoked devices (with their certificates and the
 * revoke entry's logged time), each proven in the signed log, so that mail queued for an offline
 * recipient still verifies after its sender rotated or was revoked — as long as the gateway
 * received it before the revocation. Real gateway, real clients (library API).
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PasserelleClient } from '../../client/client.js';
import { toBase64Url } from '../../protocol/crypto/base64url.js';
import { verifyOuter } from '../../protocol/crypto/envelope-verify.js';
import { cryptoReady } from '../../protocol/crypto/primitives.js';
import { ed25519Sign } from '../../protocol/crypto/signature.js';
import { revokeSignedBytes } from '../../protocol/device-cert.js';
import { createLogger } from '../../gateway/log.js';
import { startGateway, type Gateway } from '../../gateway/main.js';
import { enableMessaging, LogSink, mustLoad, writeTestConfig } from '../helpers/gateway.js';

const PASS = 'a long enough passphrase for history';

t.test('directory history: rotated and revoked senders', async (t) => {
  const cfg = writeTestConfig({ store: 'lmdb', logLevel: 'warn' });
  const work = mkdtempSync(join(tmpdir(), 'psl-dir-history-'));
  let gateway: Gateway | undefined;
  t.teardown(async () => {
    await gateway?.stop();
    await cfg.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const kine = await PasserelleClient.init({ dir: join(work, 'kine'), participant: 'kine-martin', device: 'pc', passphrase: PASS });
  const mx = await PasserelleClient.init({ dir: join(work, 'mx'), participant: 'mutuelle-x', device: 'ingest-a', passphrase: PASS });
  const keyOf: Record<string, string> = { 'kine-martin': kine.keys.header.identityKey, 'mutuelle-x': mx.keys.header.identityKey };
  enableMessaging(cfg, keyOf, `  limits: { leaseMs: 1000 }\n  policy:\n    - { from: [professional], to: [insurer], both: true }\n`);
  gateway = await startGateway(mustLoad(cfg.dir), createLogger({ level: 'warn', destination: new LogSink() }));
  const url = gateway.url;
  await kine.setGateway(url, cfg.tokens['kine-martin']);
  await mx.setGateway(url, cfg.tokens['mutuelle-x']);
  await kine.register();
  await mx.register();
  kine.readReceipts = false;
  mx.readReceipts = false;

  await t.test('sender rotates after sending while the recipient is offline: the message still verifies', async (t) => {
    const sent = await kine.send({ to: ['mutuelle-x'], text: 'signed before the rotation' });
    const oldSigKey = toBase64Url(kine.keys.secrets.device.sign.publicKey);
    await kine.rotate();
    t.not(toBase64Url(kine.keys.secrets.device.sign.publicKey), oldSigKey, 'new signing key');

    const view = await kine.api.directory('kine-martin') as { devices: Array<{ entry: { cert: { sigKey: string } }; history: Array<{ entry: { cert: { sigKey: string } }; proof: { seq: number } }> }> };
    const pc = view.devices.find((d) => d.entry.cert.sigKey === toBase64Url(kine.keys.secrets.device.sign.publicKey));
    t.ok(pc, 'current certificate served');
    t.same(pc?.history.map((h) => h.entry.cert.sigKey), [oldSigKey], 'the earlier certificate is served in history');

    // The recipient comes online only now, with a fresh process (no cached directory view).
    const later = await PasserelleClient.open({ dir: mx.dir, passphrase: PASS });
    later.readReceipts = false;
    const [out] = await later.pullInbox();
    t.match(out, { kind: 'stored', message: { text: 'signed before the rotation', verified: true } });
    t.equal(out?.kind === 'stored' ? out.message.id : undefined, sent.id);
    const peer = await later.directory.peer('kine-martin', true);
    t.equal(peer.rejected, 0, 'every certificate served was signed and proven');
    t.ok(peer.proven, 'checked against the pinned directory key');

    const fresh = await kine.send({ to: ['mutuelle-x'], text: 'signed after the rotation' });
    t.match(fresh.accepted, { status: 'accepted' }, 'the new certificate is accepted at ingress');
    const [next] = await later.pullInbox();
    t.match(next, { kind: 'stored', message: { text: 'signed after the rotation', verified: true } });
  });

  await t.test('a device revoked after the gateway received its message: still verifies; later mail is refused', async (t) => {
    const s = await cryptoReady();
    const tablet = await PasserelleClient.init({ dir: join(work, 'tablet'), participant: 'kine-martin', device: 'tablet', passphrase: PASS, identityFrom: kine });
    await tablet.setGateway(url, cfg.tokens['kine-martin']);
    await tablet.register();
    tablet.readReceipts = false;
    const sent = await tablet.send({ to: ['mutuelle-x'], text: 'sent before the revocation' });
    const receivedAt = (sent.accepted as { receipt?: { receivedAt?: number } }).receipt?.receivedAt;
    t.type(receivedAt, 'number');

    const time = Date.now();
    const sig = ed25519Sign(s, revokeSignedBytes({ participant: 'kine-martin', deviceId: 'tablet', time }), kine.keys.secrets.identity.privateKey);
    const res = await fetch(`${url}/v1/devices/tablet/revoke`, {
      method: 'POST', body: JSON.stringify({ time, sig: toBase64Url(sig) }),
      headers: { authorization: `Bearer ${cfg.tokens['kine-martin']}`, 'content-type': 'application/json' },
    });
    t.equal(res.status, 201);
    const revokedAt = ((await res.json()) as { entry: { at: number } }).entry.at;
    t.ok(revokedAt >= receivedAt!, 'revoked after the gateway received the message');

    const later = await PasserelleClient.open({ dir: mx.dir, passphrase: PASS });
    later.readReceipts = false;
    const [out] = await later.pullInbox();
    t.match(out, { kind: 'stored', message: { text: 'sent before the revocation', verified: true } });
    const peer = await later.directory.peer('kine-martin', true);
    t.match(peer.devices.find((d) => d.deviceId === 'tablet'), { revokedAt }, 'revoked device served with its proven revocation time');
    t.equal(peer.rejected, 0);

    // The gateway refuses what the revoked device signs from now on.
    await t.rejects(tablet.send({ to: ['mutuelle-x'], text: 'sent after the revocation' }), /revoked/);
    // And a recipient judging the same signature at a receive time after the revocation refuses it.
    const judged = await verifyOuter(sent.envelope, later.directory.senderLookup, { suites: [sent.envelope.suite], receivedAt: revokedAt, now: Date.now() });
    t.match(judged, { ok: false, reason: 'sender-revoked' }, 'revokedAt ≤ receivedAt is refused');
    const before = await verifyOuter(sent.envelope, later.directory.senderLookup, { suites: [sent.envelope.suite], receivedAt: revokedAt - 1, now: Date.now() });
    t.match(before, { ok: true }, 'received just before the revocation: accepted');
    t.same(await later.pullInbox(), [], 'nothing else was queued');
  });
});
