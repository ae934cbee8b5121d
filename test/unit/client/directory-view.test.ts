import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signRegistration } from '../../../client/device-cert.js';
import { DirectoryView } from '../../../client/directory-view.js';
import { GatewayApi } from '../../../client/gateway-api.js';
import { KeyFile } from '../../../client/keyfile.js';
import { toBase64Url } from '../../../protocol/crypto/base64url.js';
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

t.test('directory view: certificates checked, older certificates found by signing kid, pins enforced', async (t) => {
  const s = await cryptoReady();
  const dir = mkdtempSync(join(tmpdir(), 'psl-dirview-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const peer = await KeyFile.create({ path: join(dir, 'peer.json'), participant: 'mutuelle-x', device: 'ingest-a', passphrase: 'a passphrase', kdf: 'scrypt', xwing: false });
  const me = await KeyFile.create({ path: join(dir, 'me.json'), participant: 'kine-martin', device: 'pc', passphrase: 'a passphrase', kdf: 'scrypt', xwing: false });
  const day = 24 * 3600 * 1000;
  const t0 = Date.now() - 10 * day;
  const older = await signRegistration(peer.secrets, { participant: 'mutuelle-x', device: 'ingest-a' }, t0);
  // Rotation: new signing and encryption keys under a newer certificate.
  peer.secrets.device.sign = s.crypto_sign_keypair();
  peer.secrets.device.x25519 = s.crypto_box_keypair();
  const current = await signRegistration(peer.secrets, { participant: 'mutuelle-x', device: 'ingest-a' }, t0 + 5 * day);
  const forged = structuredClone(current.body);
  forged.cert.deviceId = 'ingest-b';

  const answer = {
    participant: 'mutuelle-x', identityKey: peer.header.identityKey,
    devices: [
      { entry: { type: 'add-device', ...current.body }, history: [{ entry: { type: 'add-device', ...older.body } }] },
      { entry: { type: 'add-device', ...forged } },
    ],
  };
  const view = new DirectoryView({ api: new FixedDirectory(answer), secrets: me.secrets, ownParticipant: 'kine-martin' });
  const p = await view.peer('mutuelle-x');
  t.equal(p.trust, 'new', 'first use pins the key');
  t.equal(p.devices.length, 1, 'the certificate with a bad signature is dropped');
  t.equal(p.rejected, 1);
  t.equal(me.secrets.pins['mutuelle-x']?.identityKey, peer.header.identityKey);

  const oldSender = await view.senderLookup({ participant: 'mutuelle-x', device: 'ingest-a', kid: kidOf(s, older.cert.sigKey) });
  t.equal(oldSender?.notBefore, older.cert.notBefore, 'an envelope signed before the rotation resolves to the older certificate');
  const newSender = await view.senderLookup({ participant: 'mutuelle-x', device: 'ingest-a', kid: kidOf(s, current.cert.sigKey) });
  t.equal(newSender?.notBefore, current.cert.notBefore);

  const recipients = await view.recipients(['mutuelle-x']);
  t.same(recipients.map((r) => toBase64Url(r.x25519!)), [toBase64Url(current.cert.encKeyX25519)], 'seal only to the newest key');

  const changed = new DirectoryView({
    api: new FixedDirectory({ ...answer, identityKey: toBase64Url(s.crypto_sign_keypair().publicKey) }),
    secrets: me.secrets, ownParticipant: 'kine-martin',
  });
  await t.rejects(changed.peer('mutuelle-x'), { code: 'PSL_FORBIDDEN' }, 'a changed identity key is refused');
});
