import type { Issue } from '../../gateway/core/issues.js';
import { decodeHl7Bytes, type Hl7Encoding } from './decode.js';

/** A file or stream of messages taken apart. Envelope segments are returned raw for audit. */
export interface SplitBatchResult {
  /** Each message's text, from its MSH to the end of its last segment (terminators kept inside). */
  readonly messages: string[];
  /** FHS, BHS, BTS, FTS segments in order of appearance (raw text). */
  readonly envelope: string[];
  readonly issues: Issue[];
}

/** Options for {@link splitBatch}. */
export interface SplitBatchOptions {
  /** Byte decoding for Uint8Array input (see decodeHl7Bytes). */
  encoding?: Hl7Encoding;
}

const ENVELOPE = new Set(['FHS', 'BHS', 'BTS', 'FTS']);

/**
 * Split a batch file (FHS/BHS … BTS/FTS, HL7 v2.5.1 §2.10.3) or an unwrapped run of messages into
 * messages. A message starts at each MSH and ends before the next MSH or envelope segment.
 * Checks BTS-1 (batch message count) and FTS-1 (batch count) when present. Linear, never throws.
 * @param input - file bytes or text
 * @param options - decoding
 */
export function splitBatch(input: Uint8Array | string, options: SplitBatchOptions = {}): SplitBatchResult {
  let text = typeof input === 'string' ? input : decodeHl7Bytes(input, options.encoding).text;
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const messages: string[] = [];
  const envelope: string[] = [];
  const issues: Issue[] = [];
  let msgStart = -1;
  let msgEnd = -1;
  let strayLines = 0;
  let inBatch = 0;
  let batches = 0;
  const close = (): void => {
    if (msgStart !== -1) {
      messages.push(text.slice(msgStart, msgEnd));
      inBatch++;
    }
    msgStart = -1;
  };
  let pos = 0;
  let line = 0;
  while (pos < text.length) {
    let end = pos;
    while (end < text.length && text.charCodeAt(end) !== 0x0d && text.charCodeAt(end) !== 0x0a) end++;
    line++;
    if (end > pos && text.slice(pos, end).trim() !== '') {
      const id = text.slice(pos, pos + 3);
      const isSegStart = end - pos === 3 || !isIdChar(text.charCodeAt(pos + 3));
      if (id === 'MSH' && isSegStart) {
        close();
        msgStart = pos;
      } else if (ENVELOPE.has(id) && isSegStart) {
        close();
        envelope.push(text.slice(pos, end));
        if (id === 'BHS') inBatch = 0;
        if (id === 'BTS') {
          batches++;
          checkCount(text.slice(pos, end), inBatch, 'BTS-1', 'batch message count', issues);
        }
        if (id === 'FTS') checkCount(text.slice(pos, end), batches, 'FTS-1', 'file batch count', issues);
      } else if (msgStart === -1) {
        strayLines++;
      }
      if (msgStart !== -1) msgEnd = end;
    }
    pos = end + (text.charCodeAt(end) === 0x0d && text.charCodeAt(end + 1) === 0x0a ? 2 : 1);
  }
  close();
  if (strayLines > 0) issues.push({ severity: 'error', code: 'structure', where: 'batch', message: `${strayLines} line(s) outside any message were skipped` });
  if (messages.length === 0) issues.push({ severity: 'error', code: 'required', where: 'batch', message: 'no MSH segment found' });
  return { messages, envelope, issues };
}

/** BTS-1 / FTS-1 are optional; when valued they must match what was read. */
function checkCount(segment: string, actual: number, where: string, label: string, issues: Issue[]): void {
  const sep = segment[3];
  if (sep === undefined) return;
  const declared = segment.split(sep)[1] ?? '';
  if (declared === '' || !/^\d+$/.test(declared)) return;
  if (Number(declared) !== actual) issues.push({ severity: 'warning', code: 'invariant', where, message: `${label} does not match the messages found` });
}

function isIdChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a);
}
