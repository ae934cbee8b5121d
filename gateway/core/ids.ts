import { createHash } from 'node:crypto';
import { poolRandom } from './random-pool.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * Time-ordered id (ULID layout: 48-bit ms timestamp + 80 random bits, Crockford base32),
 * so ids sort by arrival in both stores and in logs.
 * @param prefix - short kind tag, e.g. `raw`, `rec`
 */
export function newId(prefix: string, now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const rnd = poolRandom(10);
  let bits = 0;
  let value = 0;
  let tail = '';
  for (const byte of rnd) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      tail += CROCKFORD[(value >> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
  return `${prefix}_${time}${tail}`;
}

/** Hex SHA-256: the content address logs may show in place of content. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
