import { createHash } from 'node:crypto';
import { poolRandom } from './random-pool.js';
import type { Identifier } from './types.js';

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

/**
 * Index identifier of a record that carries no business identifier (or none that may match):
 * `<rawId>#<localRef>`. It makes re-normalizing the same raw (after a crash, or when a mapping
 * improves) land on the same record instead of creating a twin. Kept in the record's index only,
 * never in the FHIR resource.
 */
export const SOURCE_SYSTEM = 'urn:passerelle:source';

/** The index identifier of the record a raw's `localRef` produced. */
export function sourceIdentifier(rawId: string, localRef: string): Identifier {
  return { system: SOURCE_SYSTEM, value: `${rawId}#${localRef}` };
}

/**
 * A canonical record id: time-ordered like {@link newId}, written `rec-…` because records are
 * served as FHIR resources and an R4 id admits only A-Z a-z 0-9 - . (no `_`). Records stored
 * before this rule keep their `rec_…` ids, which stay readable.
 */
export function newRecordId(): string {
  return `rec-${newId('rec').slice('rec_'.length)}`;
}
