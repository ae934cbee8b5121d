import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toBase64Url } from '../../../../protocol/crypto/base64url.js';
import { SUITES } from '../../../../protocol/crypto/envelope-types.js';
import { generateDeviceKeys } from '../../../../protocol/crypto/keys.js';
import { cryptoReady } from '../../../../protocol/crypto/primitives.js';
import { certToWire, signDeviceCert } from '../../../../protocol/device-cert.js';
import { Directory } from '../../../../gateway/directory/directory.js';
import { openLmdbRelay, openRedisRelay } from '../../../helpers/relay-stores.js';
import { loadSodium } from '../../../../protocol/crypto/sodium.js';
import { AtRestCipher } from '../../../../gateway/store/at-rest.js';
import { cleanPrefix, testPrefix } from '../../../helpers/redis.js';

const sodium = await loadSodium();
const cipher = new AtRestCipher(sodium, sodium.randombytes_buf(32));

t.test('two gateway processes sharing one log (Redis): one bootstrap entry, each sees the other\'s devices', async (t) => {
  const s = await cryptoReady();
  const prefix = testPrefix('directory');
  const [ga, gb] = await Promise.all([openRedisRelay(prefix, cipher), openRedisRelay(prefix, cipher)]);
  const [a, b] = [ga.relay, gb.relay];
  t.teardown(async () => { await ga.close(); await gb.close(); await cleanPrefix(prefix); });
  const dk = s.crypto_sign_keypair();
  const directoryKey = { publicKey: dk.publicKey, secretKey: dk.privateKey, kid: new Uint8Array(32) };
  const id = s.crypto_sign_keypair();
  const participants = [{ id: 'kine-martin', identityKey: toBase64Url(id.publicKey) }];
  const [one, two] = await Promise.all([
    Directory.open({ store: a, directoryKey, participants }), Directory.open({ store: b, directoryKey, participants }),
  ]);
  t.same([one.mismatches, two.mismatches], [[], []]);
  await one.directory.refresh();
  await two.directory.refresh();
  t.equal(one.directory.entries().filter((e) => e.type === 'add-participant').length, 1, 'bootstrapped once');
  t.same(one.directory.entries().map((e) => e.hash), two.directory.entries().map((e) => e.hash), 'same log');

  const keys = await generateDeviceKeys({ xwing: false });
  const now = Date.now();
  const cert = { participant: 'kine-martin', deviceId: 'pro-1', sigKey: keys.sign.publicKey, encKeyX25519: keys.x25519.publicKey, notBefore: now - 1000, notAfter: now + 86400_000, capabilities: [SUITES.classic] };
  const body = { cert: certToWire(cert), sig: toBase64Url(signDeviceCert(s, cert, id.privateKey)) };
  const [r1, r2] = await Promise.all([one.directory.register('kine-martin', body), two.directory.register('kine-martin', body)]);
  t.same([r1.ok, r2.ok].sort(), [false, true], 'the same certificate registered concurrently is logged once');
  await one.directory.refresh();
  t.ok(one.directory.device('kine-martin', 'pro-1'), 'visible in both');
  t.ok(two.directory.device('kine-martin', 'pro-1'));
});

t.test('an identity key that is not a valid Ed25519 key is a mismatch, never logged', async (t) => {
  const s = await cryptoReady();
  const dir = mkdtempSync(join(tmpdir(), 'directory-'));
  const opened = await openLmdbRelay(join(dir, 'lmdb'), cipher);
  const store = opened.relay;
  t.teardown(async () => { await opened.close(); rmSync(dir, { recursive: true, force: true }); });
  const dk = s.crypto_sign_keypair();
  const { directory, mismatches } = await Directory.open({
    store, directoryKey: { publicKey: dk.publicKey, secretKey: dk.privateKey, kid: new Uint8Array(32) },
    participants: [{ id: 'p', identityKey: toBase64Url(new Uint8Array(32)) }],
  });
  t.match(mismatches, [{ participant: 'p', index: 0, loggedAt: 0 }]);
  t.equal(directory.entries().length, 0);
});
