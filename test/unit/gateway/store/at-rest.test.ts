import t from 'tap';
import { loadSodium } from '../../../../protocol/crypto/sodium.js';
import { AtRestCipher } from '../../../../gateway/store/at-rest.js';
import { cleanPrefix, testPrefix, REDIS_URL } from '../../../helpers/redis.js';
import { createClient } from 'redis';

t.test('seals and opens bound to the slot', async (t) => {
  const sodium = await loadSodium();
  const cipher = new AtRestCipher(sodium, sodium.randombytes_buf(32));
  const marker = new TextEncoder().encode('MARKER-PATIENT-DUPONT');
  const sealed = cipher.seal(marker, 'raw:1');
  t.notOk(Buffer.from(sealed).includes(Buffer.from('DUPONT')), 'ciphertext hides the marker');
  t.same(Buffer.from(cipher.open(sealed, 'raw:1')).toString(), 'MARKER-PATIENT-DUPONT');
  t.throws(() => cipher.open(sealed, 'raw:2'), { code: 'PSL_STORE_CORRUPT' }, 'a blob moved to another slot fails');
  const flipped = Uint8Array.from(sealed);
  flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
  t.throws(() => cipher.open(flipped, 'raw:1'), { code: 'PSL_STORE_CORRUPT' });
  const other = new AtRestCipher(sodium, sodium.randombytes_buf(32));
  t.throws(() => other.open(sealed, 'raw:1'), { code: 'PSL_STORE_CORRUPT' }, 'wrong data key fails');
  t.throws(() => new AtRestCipher(sodium, new Uint8Array(16)), { code: 'PSL_CONFIG_INVALID' });
});

t.test('cleanPrefix removes only the prefix', async (t) => {
  const prefix = testPrefix('at-rest');
  const c = createClient({ url: REDIS_URL });
  await c.connect();
  await c.set(`${prefix}a`, '1');
  await c.set(`${prefix}b`, '2');
  t.equal(await cleanPrefix(prefix), 2);
  t.equal(await c.exists(`${prefix}a`), 0);
  await c.quit();
});

t.test('lookup hashes are keyed: not plain SHA-256, different per data key, stable per key', async (t) => {
  const sodium = await loadSodium();
  const { createHash } = await import('node:crypto');
  const a = new AtRestCipher(sodium, sodium.randombytes_buf(32));
  const b = new AtRestCipher(sodium, sodium.randombytes_buf(32));
  const value = 'urn:oid:1.2.250.1.213.1.4.8|2800175123456';
  t.equal(a.lookupHash(value), a.lookupHash(value));
  t.not(a.lookupHash(value), b.lookupHash(value));
  t.not(a.lookupHash(value), createHash('sha256').update(value).digest('hex'), 'a dictionary of SHA-256 values does not reverse it');
  t.match(a.lookupHash(value), /^[0-9a-f]{64}$/);
});
