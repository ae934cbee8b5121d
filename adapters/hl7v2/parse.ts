import type { Issue } from '../../gateway/core/issues.js';
import { decodeHl7Bytes, type Hl7Encoding } from './decode.js';
import { DEFAULT_DELIMITERS, type Hl7Delimiters } from './escape.js';
import { Hl7Message } from './message.js';

/** Options for {@link parseHl7}. */
export interface ParseHl7Options {
  /** Byte decoding; default `auto` (UTF-8 when valid, else latin1). Ignored for string input. */
  encoding?: Hl7Encoding;
  /** Stop listing per-segment problems after this many (the count is still reported). Default 20. */
  maxIssues?: number;
}

/** `ok: false` only when no message structure could be found (a fatal issue says why). */
export type ParseResult =
  | { ok: true; message: Hl7Message; issues: Issue[] }
  | { ok: false; issues: Issue[] };

const SEGMENT_ID = /^[A-Z][A-Z0-9]{2}$/;

/**
 * Parse one ER7 message (HL7 v2.x pipe-and-hat encoding, v2.5.1 chapter 2). Cheap by design: it
 * decodes, reads the delimiters and indexes the segments; fields are split on access.
 * Never throws for bad data and runs in time linear in the input.
 * @param input - the message bytes (one MLLP frame) or text; batches go through splitBatch first
 * @param options - decoding and reporting options
 */
export function parseHl7(input: Uint8Array | string, options: ParseHl7Options = {}): ParseResult {
  const issues: Issue[] = [];
  let text: string;
  let encoding: Hl7Message['encoding'] = 'string';
  let bom: boolean;
  if (typeof input === 'string') {
    bom = input.charCodeAt(0) === 0xfeff;
    text = bom ? input.slice(1) : input;
  } else {
    const decoded = decodeHl7Bytes(input, options.encoding);
    ({ text, bom } = decoded);
    encoding = decoded.encoding;
  }
  if (bom) issues.push({ severity: 'warning', code: 'value', where: 'MSH', message: 'a byte order mark precedes MSH and was ignored' });
  let start = 0;
  while (start < text.length && isBlank(text.charCodeAt(start))) start++;
  if (start > 0) text = text.slice(start);

  const delims = readDelimiters(text, issues);
  if (!delims) return { ok: false, issues };
  const message = new Hl7Message(text, delims, indexSegments(text, delims.field, issues, options.maxIssues ?? 20), encoding);
  checkHeader(message, issues);
  return { ok: true, message, issues };
}

/** MSH-1 and MSH-2 (HL7 v2.5.1 §2.14.9.1-2). Undefined (with a fatal issue) when unusable. */
function readDelimiters(text: string, issues: Issue[]): Hl7Delimiters | undefined {
  const fatal = (where: string, message: string): undefined => {
    issues.push({ severity: 'fatal', code: 'structure', where, message });
    return undefined;
  };
  const head = text.slice(0, 3);
  if (head !== 'MSH') {
    return head === 'FHS' || head === 'BHS'
      ? fatal('MSH', 'input is a batch (FHS/BHS); split it into messages first')
      : fatal('MSH', 'message does not start with an MSH segment');
  }
  if (text.length < 4 || !isDelimiterChar(text.charCodeAt(3))) return fatal('MSH-1', 'MSH-1 field separator is missing or not a delimiter character');
  const field = text[3]!;
  let end = 4;
  while (end < text.length && text[end] !== field && !isLineEnd(text.charCodeAt(end))) end++;
  const enc = text.slice(4, end);
  if (enc.length === 0) return fatal('MSH-2', 'MSH-2 encoding characters are missing');
  for (let i = 0; i < enc.length; i++) {
    if (!isDelimiterChar(enc.charCodeAt(i))) return fatal('MSH-2', 'MSH-2 encoding characters must not be letters, digits or spaces');
  }
  if (enc.length < 4) {
    issues.push({ severity: 'warning', code: 'structure', where: 'MSH-2', message: 'MSH-2 has fewer than four encoding characters; standard ones assumed for the rest' });
  } else if (enc.length > 5) {
    issues.push({ severity: 'warning', code: 'structure', where: 'MSH-2', message: 'MSH-2 has more than five encoding characters; the extra ones are ignored' });
  }
  const d = DEFAULT_DELIMITERS;
  const component = enc[0]!;
  const repetition = enc[1] ?? d.repetition;
  let escape = enc[2] ?? d.escape;
  const subcomponent = enc[3] ?? d.subcomponent;
  const splitting = [field, component, repetition, subcomponent];
  if (new Set(splitting).size !== splitting.length) return fatal('MSH-2', 'MSH-1 and MSH-2 must declare distinct field, component, repetition and subcomponent separators');
  if (splitting.includes(escape)) {
    // Some senders double the escape character (`^~\\&`); splitting still works, escaping cannot.
    issues.push({ severity: 'warning', code: 'structure', where: 'MSH-2', message: 'MSH-2 escape character repeats a separator; escape sequences are not decoded' });
    escape = '';
  }
  return Object.freeze({ segment: '\r', field, component, repetition, escape, subcomponent });
}

/** One pass over the text: segments end at CR, LF or CRLF (§2.5.1; LF tolerated as files use it). */
function indexSegments(text: string, fieldSep: string, issues: Issue[], maxIssues: number): { starts: number[]; ends: number[]; names: string[] } {
  const starts: number[] = [];
  const ends: number[] = [];
  const names: string[] = [];
  let bad = 0;
  let cr = text.indexOf('\r');
  let lf = text.indexOf('\n');
  let pos = 0;
  while (pos < text.length) {
    if (cr !== -1 && cr < pos) cr = text.indexOf('\r', pos);
    if (lf !== -1 && lf < pos) lf = text.indexOf('\n', pos);
    const end = cr === -1 ? (lf === -1 ? text.length : lf) : lf === -1 ? cr : Math.min(cr, lf);
    if (!isBlankLine(text, pos, end)) {
      const sep = text.indexOf(fieldSep, pos);
      const nameEnd = sep === -1 || sep > end ? end : sep;
      const name = text.slice(pos, nameEnd);
      if (!SEGMENT_ID.test(name)) {
        if (bad++ < maxIssues) {
          issues.push({ severity: 'error', code: 'structure', where: `segment ${names.length + 1}`, message: 'segment ID must be three upper-case letters or digits followed by the field separator' });
        }
      } else if (name === 'MSH' && names.length > 0 && bad++ < maxIssues) {
        issues.push({ severity: 'error', code: 'structure', where: `segment ${names.length + 1}`, message: 'a second MSH segment: several messages were sent as one; split them first' });
      }
      starts.push(pos);
      ends.push(end);
      names.push(name);
    }
    pos = end + (text.charCodeAt(end) === 0x0d && text.charCodeAt(end + 1) === 0x0a ? 2 : 1);
  }
  if (bad > maxIssues) {
    issues.push({ severity: 'error', code: 'structure', where: 'message', message: `${bad - maxIssues} further segment problems not listed` });
  }
  return { starts, ends, names };
}

/** Header fields every message needs before it can be acknowledged or routed (v2.5.1 §2.14.9). */
function checkHeader(msg: Hl7Message, issues: Issue[]): void {
  const msh = msg.segmentAt(0)!;
  const required: Array<[number, string]> = [[9, 'MSH-9 message type'], [10, 'MSH-10 message control ID'], [11, 'MSH-11 processing ID'], [12, 'MSH-12 version ID']];
  for (const [field, label] of required) {
    if (msh.get(field) === '') issues.push({ severity: 'error', code: 'required', where: `MSH-${field}`, message: `${label} is required` });
  }
  if (msh.get(9) !== '' && msh.get(9, 1, 2) === '' && msh.get(9) !== 'ACK') {
    issues.push({ severity: 'warning', code: 'required', where: 'MSH-9.2', message: 'MSH-9.2 trigger event is missing' });
  }
}

function isDelimiterChar(c: number): boolean {
  // Not a letter, digit, space, control character or line end.
  return c > 0x20 && c !== 0x7f && !(c >= 0x30 && c <= 0x39) && !(c >= 0x41 && c <= 0x5a) && !(c >= 0x61 && c <= 0x7a);
}

function isLineEnd(c: number): boolean {
  return c === 0x0d || c === 0x0a;
}

function isBlank(c: number): boolean {
  return c === 0x0d || c === 0x0a || c === 0x20 || c === 0x09;
}

function isBlankLine(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isBlank(text.charCodeAt(i))) return false;
  return true;
}

export { Hl7Message } from './message.js';
export type { Hl7Header } from './message.js';
export { Hl7Segment, type Hl7Presence } from './segment.js';
export { parseHl7Path, formatHl7Path, type Hl7Path } from './path.js';
export { unescapeHl7, escapeHl7, DEFAULT_DELIMITERS, type Hl7Delimiters } from './escape.js';
export { decodeHl7Bytes, type Hl7Encoding } from './decode.js';

