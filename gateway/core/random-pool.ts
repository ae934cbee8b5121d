import { randomFillSync } from 'node:crypto';

/** Refill size: one CSPRNG call serves ~170 nonces. */
const POOL_BYTES = 4096;

let pool = new Uint8Array(0);
let offset = 0;

/**
 * `n` fresh bytes from Node's CSPRNG, drawn from a refilled pool so that hot paths (a nonce per
 * sealed value, random bits per id) do not pay one CSPRNG call each: under load those calls were
 * a fifth of the intake's CPU (cpu profile of bench/pipeline). Every byte is handed out once.
 * For nonces and ids only; keys come from randomBytes directly.
 * @param n - at most POOL_BYTES
 */
export function poolRandom(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > POOL_BYTES) throw new RangeError(`poolRandom takes 0..${POOL_BYTES} bytes`);
  if (offset + n > pool.length) {
    pool = randomFillSync(new Uint8Array(POOL_BYTES));
    offset = 0;
  }
  // A copy: callers may keep or wipe theirs without touching bytes someone else will get.
  const out = pool.slice(offset, offset + n);
  offset += n;
  return out;
}
