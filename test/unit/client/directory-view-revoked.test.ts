/**
 * Revoked devices in the directory answer: served with their certificates so older mail still
 * verifies, never treated as live, and revokedAt taken from the revoke entry's logged time.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signRegistration } from '../../../client/device-cert.js';
import { DirectoryView } from '../../../client/directory-view.js';
import { GatewayApi } from '../../../client/gateway-api.js';
import { KeyFile } from '../../../client/keyfile.js';
import { kidOf } from '../../../protocol/crypto/keys.js';
import { cryptoReady } from '../../../protocol/crypto/primitives.js';

/** Serves a fixed directory answer, shaped as GET /v1/directory/{participant} answers. */
class FixedDirectory extends GatewayApi {
  constructor(readonly answer: Record<string, unknown>) {
    super('http://127.0.0.1:9', 'unused-token-0123456789', 'dev');
  }

  override async directory(): Promise<Record<string, unknown>> {
    return this.answer;
  }
}

t.test('directory view: revoked devices keep their certificates and are never live', async (t) => {
  const s = await cryptoReady();
  const dir = mkdtempSync(join(tmpdir(), 'psl-dirview-revoked-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const peer = await KeyFile.create({ path: join(dir, 'peer.json'), participant: 'mutuelle-x', device: 'ingest-a', passphrase: 'a passphrase', kdf: 'scrypt', xwing: false });
  const me = await KeyFile.create({ path: join(dir, 'me.json'), participant: 'kine-martin', device: 'pc', passphrase: 'a passphrase', kdf: 'scrypt', xwing: false });
  const now = Date.now();
  const older = await signRegistration(peer.secrets, { participant: 'mutuelle-x', device: 'ingest-a' }, now - 3600_000);
  peer.secrets.device.sign = s.crypto_sign_keypair();
  peer.secrets.device.x25519 = s.crypto_box_keypair();
  const current = await signRegistration(peer.secrets, { participant: 'mutuelle-x', device: 'ingest-a' }, now - 60_000);
  const revokedAt = now - 1000;
  const device = { entry: { type: 'add-device', ...current.body }, history: [{ entry: { type: 'add-device', ...older.body } }] };
  const answer = {
    participant: 'mutuelle-x', identityKey: peer.header.identityKey,
    // A gateway that also lists the device as live does not make it live.
    devices: [device],
    revoked: [
      { entry: { type: 'revoke', participant: 'mutuelle-x', deviceId: 'ingest-a', time: revokedAt, at: revokedAt }, revokedAt: 0, device },
      // Someone else's revocation is not ours to apply.
      { entry: { type: 'revoke', participant: 'chu-lyon', deviceId: 'ingest-b', time: 1, at: 1 }, device },
    ],
  };
  const view = new DirectoryView({ api: new FixedDirectory(answer), secrets: me.secrets, ownParticipant: 'kine-martin' });
  const p = await view.peer('mutuelle-x');
  t.equal(p.devices.length, 1, 'one device, listed once');
  t.equal(p.devices[0]?.revokedAt, revokedAt, 'revokedAt is the revoke entry\'s logged time, not the loose field');
  t.equal(p.devices[0]?.certs.length, 2, 'current and earlier certificates kept');
  const sender = await view.senderLookup({ participant: 'mutuelle-x', device: 'ingest-a', kid: kidOf(s, older.cert.sigKey) });
  t.match(sender, { notBefore: older.cert.notBefore, revokedAt }, 'older mail resolves to its certificate, with the revocation time');
  await t.rejects(view.recipients(['mutuelle-x']), { code: 'PSL_NOT_FOUND' }, 'a revoked device is never sealed to');
});
