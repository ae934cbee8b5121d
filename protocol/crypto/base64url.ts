/**
 * Base64url without padding (RFC 4648 §5), strict and canonical.
 * Pure JS so the future `client/` can use it before libsodium is ready.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

// Node's Buffer is ~10x faster on megabyte payloads; the pure loops serve browsers (future client/).
// Buffer's decoder is lenient, so input is validated here before it is handed over.
const NodeBuffer = typeof Buffer === 'function' ? Buffer : undefined;
const BASE64URL_TEXT = /^[A-Za-z0-9_-]*$/;

/**
 * Encode bytes as unpadded base64url.
 * @param bytes - input bytes
 */
export function toBase64Url(bytes: Uint8Array): string {
  if (NodeBuffer !== undefined) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
  return toBase64UrlPortable(bytes);
}

/**
 * The pure-JS encoder (used where Buffer is absent); same contract as toBase64Url.
 * @param bytes - input bytes
 */
export function toBase64UrlPortable(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]!;
  }
  return out;
}

/**
 * Decode unpadded base64url, refusing anything non-canonical: padding, whitespace, the `+/`
 * alphabet, an impossible length, or non-zero trailing bits (two strings must never decode to the
 * same bytes, or a signed field could be re-encoded by a relay).
 * @param text - the encoded string
 * @returns the bytes, or undefined when `text` is not canonical base64url
 */
export function fromBase64Url(text: string): Uint8Array | undefined {
  const len = text.length;
  if (len % 4 === 1) return undefined;
  if (NodeBuffer !== undefined) {
    if (!BASE64URL_TEXT.test(text)) return undefined;
    // Canonical: the spare low bits of the last character must be zero (2 bits for 2 bytes, 4 for 1).
    const spare = len % 4 === 2 ? 15 : len % 4 === 3 ? 3 : 0;
    if (spare !== 0 && (DECODE[text.charCodeAt(len - 1)]! & spare) !== 0) return undefined;
    const b = NodeBuffer.from(text, 'base64url');
    // Small Buffers live in a shared pool; copy them so keys never alias unrelated memory.
    return b.length < 4096 ? Uint8Array.from(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  return fromBase64UrlPortable(text);
}

/**
 * The pure-JS decoder (used where Buffer is absent); same contract as fromBase64Url.
 * @param text - the encoded string
 */
export function fromBase64UrlPortable(text: string): Uint8Array | undefined {
  const len = text.length;
  if (len % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? DECODE[c]! : -1;
    if (v < 0) return undefined;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}
