/**
 * Pre-authentication encoding (PASETO "PAE" style): the only way this module turns structured
 * data into bytes that get signed, hashed or used as AEAD associated data. Never sign JSON text.
 *
 *   PAE(parts) = le64(count) ‖ for each p: le64(len(p)) ‖ p
 */

const utf8 = new TextEncoder();

/** One PAE part: raw bytes, or a string taken as its UTF-8 bytes. */
export type PaePart = Uint8Array | string;

/**
 * Little-endian 64-bit encoding of a non-negative safe integer (PAE lengths and counts).
 * @param n - value in [0, 2^53 - 1]
 */
export function le64(n: number): Uint8Array {
  return u64(n, true);
}

/**
 * Big-endian 64-bit encoding of a non-negative safe integer (ts, expires, sizes in ENVELOPE.md).
 * @param n - value in [0, 2^53 - 1]
 */
export function be64(n: number): Uint8Array {
  return u64(n, false);
}

function u64(n: number, little: boolean): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('u64 needs a non-negative safe integer');
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), little);
  return out;
}

/**
 * Length-prefixed canonical concatenation of `parts`.
 * @param parts - fields in their fixed order; strings are UTF-8 encoded
 */
export function pae(parts: readonly PaePart[]): Uint8Array {
  const bytes = parts.map((p) => (typeof p === 'string' ? utf8.encode(p) : p));
  let total = 8;
  for (const b of bytes) total += 8 + b.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(bytes.length), true);
  let off = 8;
  for (const b of bytes) {
    view.setBigUint64(off, BigInt(b.length), true);
    out.set(b, off + 8);
    off += 8 + b.length;
  }
  return out;
}
