import { isUtf8 } from 'node:buffer';

/** How bytes become text. `auto`: UTF-8 when the bytes are valid UTF-8, else latin1 (never fails). */
export type Hl7Encoding = 'auto' | 'utf-8' | 'latin1';

/** Decoded text plus which decoding was applied (for provenance; MSH-18 handling builds on this). */
export interface DecodedText {
  readonly text: string;
  readonly encoding: 'utf-8' | 'latin1';
  /** A UTF-8 byte order mark was present and removed. */
  readonly bom: boolean;
}

/**
 * The one place where HL7 bytes become a string. A later change adds MSH-18 (character set)
 * handling here; callers must not decode on their own.
 * @param bytes - message bytes as framed
 * @param encoding - `auto` (default), or a forced decoding
 */
export function decodeHl7Bytes(bytes: Uint8Array, encoding: Hl7Encoding = 'auto'): DecodedText {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bom = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
  const body = bom ? buf.subarray(3) : buf;
  // isUtf8 is a vectorised check; plain ASCII is valid UTF-8 and decodes identically either way.
  const useUtf8 = encoding === 'utf-8' || (encoding === 'auto' && isUtf8(body));
  return { text: body.toString(useUtf8 ? 'utf8' : 'latin1'), encoding: useUtf8 ? 'utf-8' : 'latin1', bom };
}
