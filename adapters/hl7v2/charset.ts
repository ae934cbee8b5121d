import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';

/**
 * Character sets for HL7 v2 over MLLP and HTTP. MSH-18 (HL7 table 0211, v2.5.1 §2.15.9.18) names the
 * character set of the whole message; a feed may force one instead (senders that declare nothing and
 * send Windows-1252 are common). Decoding is only for parsing and for the ACK: the stored raw stays
 * the bytes received.
 */

/** How a message's bytes were turned into text, for logs and provenance (names only, never content). */
export interface CharsetChoice {
  /** iconv-lite name actually used, e.g. `utf8`, `windows-1252`. */
  readonly charset: string;
  /** Where the choice came from. */
  readonly source: 'forced' | 'msh-18' | 'fallback' | 'auto';
  /** MSH-18 was valued but names nothing we can decode; `auto` was used instead. */
  readonly unknownDeclared?: boolean;
}

/** HL7 table 0211 names (and common non-standard spellings) mapped to iconv-lite names. */
const TABLE_0211: Readonly<Record<string, string>> = {
  // 7-bit ASCII: decoded as Latin-1 so stray high bytes survive for diagnosis instead of becoming U+FFFD.
  'ASCII': 'latin1',
  'ISO IR6': 'latin1',
  '8859/1': 'iso-8859-1', '8859/2': 'iso-8859-2', '8859/3': 'iso-8859-3', '8859/4': 'iso-8859-4',
  '8859/5': 'iso-8859-5', '8859/6': 'iso-8859-6', '8859/7': 'iso-8859-7', '8859/8': 'iso-8859-8',
  '8859/9': 'iso-8859-9', '8859/15': 'iso-8859-15',
  'ISO IR100': 'iso-8859-1', 'ISO IR101': 'iso-8859-2', 'ISO IR109': 'iso-8859-3', 'ISO IR110': 'iso-8859-4',
  'ISO IR144': 'iso-8859-5', 'ISO IR127': 'iso-8859-6', 'ISO IR126': 'iso-8859-7', 'ISO IR138': 'iso-8859-8',
  'ISO IR148': 'iso-8859-9', 'ISO IR192': 'utf8',
  'UNICODE UTF-8': 'utf8', 'UNICODE': 'utf8', 'UTF-8': 'utf8', 'UTF8': 'utf8',
  'GB 18030-2000': 'gb18030', 'KS X 1001': 'euc-kr', 'BIG-5': 'big5',
  'CP1252': 'windows-1252', 'WINDOWS-1252': 'windows-1252', 'CP1250': 'windows-1250', 'WINDOWS-1250': 'windows-1250',
};

/** Multi-byte encodings whose bytes can look like MLLP or HL7 delimiters; refused rather than misframed. */
const UNFRAMEABLE = new Set(['utf16le', 'utf16be', 'utf16', 'utf32le', 'utf32be', 'utf32', 'ucs2']);

/**
 * The iconv-lite name for an MSH-18 value or a configured override, or undefined when unsupported.
 * @param name - `8859/15`, `UNICODE UTF-8`, `windows-1252`…
 */
export function resolveCharset(name: string): string | undefined {
  const key = name.trim().toUpperCase();
  if (key === '') return undefined;
  const mapped = TABLE_0211[key];
  if (mapped) return mapped;
  if (!iconv.encodingExists(key)) return undefined;
  return UNFRAMEABLE.has(iconv._canonicalizeEncoding(key)) ? undefined : key.toLowerCase();
}

/**
 * MSH-18 (first repetition) read straight from the bytes, before any decoding: MSH is ASCII in every
 * character set we accept. Looks at the first MSH segment, so it also works on FHS/BHS batches.
 * @param bytes - one message or one batch as received
 */
export function sniffMsh18(bytes: Uint8Array): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  for (;;) {
    at = buf.indexOf('MSH', at, 'latin1');
    if (at === -1) return '';
    if (at === 0 || buf[at - 1] === 0x0d || buf[at - 1] === 0x0a || (at === 3 && buf[0] === 0xef)) break;
    at += 3;
  }
  const fieldSep = buf[at + 3];
  if (fieldSep === undefined) return '';
  let end = at;
  while (end < buf.length && buf[end] !== 0x0d && buf[end] !== 0x0a) end++;
  const line = buf.toString('latin1', at, end);
  const fields = line.split(String.fromCharCode(fieldSep));
  // fields[0] is "MSH" and fields[1] is MSH-2, so MSH-n is fields[n - 1].
  const repetition = fields[1]?.[1] ?? '~';
  return (fields[17] ?? '').split(repetition)[0]?.trim() ?? '';
}

/**
 * Decide how to decode: forced override, then MSH-18, then a transport hint (HTTP charset
 * parameter), then auto (UTF-8 when the bytes are valid UTF-8, else Windows-1252, the usual
 * undeclared sender charset and a superset of Latin-1's printable range).
 * @param bytes - message or batch bytes
 * @param options - `forced`: the feed's `encoding`; `fallback`: a transport-declared charset
 */
export function chooseCharset(bytes: Uint8Array, options: { forced?: string; fallback?: string } = {}): CharsetChoice {
  if (options.forced) {
    const forced = resolveCharset(options.forced);
    if (forced) return { charset: forced, source: 'forced' };
  }
  const declared = sniffMsh18(bytes);
  const fromMsh = declared === '' ? undefined : resolveCharset(declared);
  if (fromMsh) return { charset: fromMsh, source: 'msh-18' };
  const unknown = declared !== '' ? { unknownDeclared: true } : {};
  const fallback = options.fallback ? resolveCharset(options.fallback) : undefined;
  if (fallback) return { charset: fallback, source: 'fallback', ...unknown };
  return { charset: isUtf8(bytes) ? 'utf8' : 'windows-1252', source: 'auto', ...unknown };
}

/**
 * Bytes to text with the chosen charset (a UTF-8 byte order mark is dropped).
 * @param bytes - message bytes
 * @param charset - an iconv-lite name from {@link chooseCharset}
 */
export function decodeText(bytes: Uint8Array, charset: string): string {
  return iconv.decode(bytes, charset);
}

/**
 * Text to bytes with the same charset the inbound message used, so mirrored MSH fields in an ACK
 * come back as the sender wrote them.
 * @param text - ACK text
 * @param charset - an iconv-lite name
 */
export function encodeText(text: string, charset: string): Buffer {
  return iconv.encode(text, charset);
}
