import t from 'tap';
import { toBase64Url } from '../../../protocol/crypto/base64url.js';
import { SUITES } from '../../../protocol/crypto/envelope-types.js';
import { generateDeviceKeys } from '../../../protocol/crypto/keys.js';
import { cryptoReady } from '../../../protocol/crypto/primitives.js';
import {
  certFromWire, certSignedBytes, certToWire, checkDeviceCert, MAX_CERT_VALIDITY_MS, signDeviceCert, type DeviceCert,
} from '../../../protocol/device-cert.js';

t.test('certificate: wire round trip, canonical bytes, each check', async (t) => {
  const s = await cryptoReady();
  const id = s.crypto_sign_keypair();
  const keys = await generateDeviceKeys();
  const now = 1_800_000_000_000;
  const cert: DeviceCert = {
    participant: 'kine-martin', deviceId: 'pro-1', sigKey: keys.sign.publicKey, encKeyX25519: keys.x25519.publicKey,
    encKeyXWing: keys.xwing!.publicKey, notBefore: now, notAfter: now + MAX_CERT_VALIDITY_MS, capabilities: [SUITES.classic, SUITES.hybrid],
  };
  const sig = signDeviceCert(s, cert, id.privateKey);
  const back = certFromWire(JSON.parse(JSON.stringify(certToWire(cert))));
  t.ok(back);
  t.same(certSignedBytes(back!), certSignedBytes(cert), 'same signed bytes after a wire round trip');
  t.equal(checkDeviceCert(s, cert, sig, id.publicKey, now + 1), undefined, 'valid');

  const check = (c: Partial<DeviceCert>, at = now + 1): string | undefined => {
    const changed = { ...cert, ...c };
    return checkDeviceCert(s, changed, signDeviceCert(s, changed, id.privateKey), id.publicKey, at);
  };
  t.equal(check({ notAfter: now + MAX_CERT_VALIDITY_MS + 1 }), 'validity', '30 days + 1 ms');
  t.equal(check({ notAfter: now }), 'validity', 'empty window');
  t.equal(check({}, now + MAX_CERT_VALIDITY_MS + 1), 'expired');
  t.equal(check({}, now - 10 * 60_000), 'not-yet-valid');
  t.equal(check({ capabilities: [] }), 'capabilities');
  t.equal(check({ capabilities: [SUITES.hybrid], encKeyXWing: undefined }), 'capabilities', 'hybrid needs an X-Wing key');
  t.equal(check({ sigKey: new Uint8Array(32) }), 'sig-key', 'all-zero Ed25519 key');
  t.equal(check({ encKeyX25519: Uint8Array.of(1, ...new Uint8Array(31)) }), 'x25519-key', 'X25519 point of order 1');
  t.equal(check({ encKeyXWing: new Uint8Array(1216) }), 'xwing-key', 'X-Wing key with a low-order X25519 part');
  t.equal(checkDeviceCert(s, { ...cert, deviceId: 'pro-2' }, sig, id.publicKey, now + 1), 'signature', 'signature binds the device id');

  t.equal(certFromWire({ ...certToWire(cert), extra: 1 }), undefined, 'unknown field');
  t.equal(certFromWire({ ...certToWire(cert), sigKey: `${toBase64Url(cert.sigKey)}=` }), undefined, 'padded base64');
  t.equal(certFromWire({ ...certToWire(cert), deviceId: 'bad id' }), undefined, 'device id not a slug');
});
