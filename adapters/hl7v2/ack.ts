import { Message } from 'node-hl7-client';
import type { Issue } from '../../gateway/core/issues.js';
import { parseHl7Path, unescapeHl7, type Hl7Delimiters, type Hl7Header } from './parse.js';

/**
 * HL7 v2 acknowledgments (v2.5.1 chapter 2, §2.9 and the MSA/ERR segments §2.15.8, §2.15.5),
 * built with node-hl7-client. An ACK mirrors the inbound MSH: sender and receiver swapped, the same
 * MSH-1/MSH-2, version, processing ID and character set, and MSA-2 = inbound MSH-10.
 */

/** Table 0008. Original mode: AA/AE/AR. Enhanced mode commit (accept) ACK: CA/CE/CR. */
export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

/** HL7 table 0357 (message error condition codes) with their standard texts. */
export const HL7_ERROR_CODES = {
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '202': 'Unsupported processing id',
  '203': 'Unsupported version id',
  '205': 'Duplicate key identifier',
  '207': 'Application internal error',
} as const;
export type Hl7ErrorCode = keyof typeof HL7_ERROR_CODES;

/** One ERR segment. `where` is a location such as `PID-7` or `MSH-9.2`; `text` names the rule, never a value. */
export interface AckError {
  where?: string;
  hl7Code: Hl7ErrorCode;
  severity: 'E' | 'W' | 'I';
  /** Our registry code (PSL_…) when the reason is ours rather than the message's. */
  appCode?: string;
  text?: string;
}

/** What an ACK needs to know about the message it answers; undefined header = MSH unreadable. */
export interface AckInput {
  header: Hl7Header | undefined;
  /** The inbound message's delimiters (defaults when the header is unreadable). */
  delimiters?: Hl7Delimiters;
  code: AckCode;
  errors?: readonly AckError[];
  /** MSH-10 of the ACK itself. */
  ackControlId: string;
  /** MSH-7 of the ACK (HL7 DTM). */
  dateTime: string;
  /** MSH-3/MSH-4 used when the inbound receiving application/facility is empty or unknown. */
  self: { application: string; facility: string };
  /** Enhanced-mode ACKs carry MSH-15/16 = NE: nobody acknowledges an acknowledgment. */
  enhanced?: boolean;
}

const ISSUE_TO_0357: Readonly<Record<Issue['code'], Hl7ErrorCode>> = {
  structure: '100', required: '101', value: '102', 'too-long': '102', 'code-invalid': '103', 'not-supported': '200',
  duplicate: '205', invariant: '102', security: '207', forbidden: '207', processing: '207', 'not-found': '103',
  exception: '207', informational: '207', conflict: '207',
};

/**
 * ERR rows for parser or normalizer issues (fatal and error first, at most `max`).
 * @param issues - issues whose `where` and `message` are location and rule only
 * @param max - ERR segments to emit
 */
export function issuesToAckErrors(issues: readonly Issue[], max = 10): AckError[] {
  const rank = { fatal: 0, error: 1, warning: 2, information: 3 } as const;
  return [...issues].sort((a, b) => rank[a.severity] - rank[b.severity]).slice(0, max).map((i) => ({
    ...(i.where === undefined ? {} : { where: i.where }),
    hl7Code: ISSUE_TO_0357[i.code],
    severity: i.severity === 'warning' ? 'W' : i.severity === 'information' ? 'I' : 'E',
    text: i.message,
  }));
}

const P_DATE = '\u0000D\u0000';
const P_ACK_ID = '\u0000I\u0000';
const P_CTRL = '\u0000C\u0000';
const TEMPLATE_MAX = 512;
/** Error-free ACKs differ per message only in MSH-7, MSH-10 and MSA-2, so the node-hl7-client build is memoised per header shape. */
const templates = new Map<string, { parts: string[]; msg: Message }>();

/**
 * Build an acknowledgment as ER7 text (segments separated by CR).
 * @param input - inbound header, ACK code, errors, the ACK's own MSH-7/MSH-10
 */
export function buildAck(input: AckInput): string {
  if (input.errors && input.errors.length > 0) {
    const msg = skeleton(input, input.dateTime, input.ackControlId);
    msg.set('MSA.2', input.header?.controlId ?? '');
    for (const e of input.errors) addErr(msg, e, versionOf(input.header));
    return msg.toString();
  }
  const key = JSON.stringify([input.header && headerKey(input.header), input.delimiters && delimiterKey(input.delimiters), input.code, input.self, input.enhanced === true]);
  let t = templates.get(key);
  if (!t) {
    const msg = skeleton(input, P_DATE, P_ACK_ID);
    msg.set('MSA.2', P_CTRL);
    t = { parts: msg.toString().split('\u0000'), msg };
    if (templates.size >= TEMPLATE_MAX) templates.delete(templates.keys().next().value as string);
    templates.set(key, t);
  }
  const fill: Record<string, string> = {
    D: input.dateTime, I: t.msg.escape(input.ackControlId), C: t.msg.escape(input.header?.controlId ?? ''),
  };
  return t.parts.map((p, i) => (i % 2 === 1 ? fill[p] ?? '' : p)).join('');
}

/** MSH + MSA-1 of an ACK, with the per-message fields given. */
function skeleton(input: AckInput, dateTime: string, ackControlId: string): Message {
  const h = input.header;
  const d = input.delimiters;
  const enc = d ? encodingCharacters(h, d) : '^~\\&';
  const msg = new Message({ text: `MSH${d?.field ?? '|'}${enc}\r` });
  const version = versionOf(h);
  // Sender and receiver swap (v2.5.1 §2.9.2): we answer as the application the sender addressed.
  setHd(msg, 3, h?.receivingApplication || input.self.application, d);
  setHd(msg, 4, h?.receivingFacility || input.self.facility, d);
  setHd(msg, 5, h?.sendingApplication ?? '', d);
  setHd(msg, 6, h?.sendingFacility ?? '', d);
  msg.set('MSH.7', dateTime);
  msg.set('MSH.9.1', 'ACK');
  if (h?.messageType.trigger) msg.set('MSH.9.2', h.messageType.trigger);
  // MSH-9.3 (message structure) exists from v2.3.1; the ACK's structure is ACK.
  if (atLeast(version, 2, 3, 1)) msg.set('MSH.9.3', 'ACK');
  msg.set('MSH.10', ackControlId);
  msg.set('MSH.11', h?.processingId || 'P');
  msg.set('MSH.12', version);
  if (input.enhanced) {
    msg.set('MSH.15', 'NE');
    msg.set('MSH.16', 'NE');
  }
  const charset = h?.charsets[0];
  if (charset) msg.set('MSH.18', charset);
  msg.addSegment('MSA').set('1', input.code);
  return msg;
}

/** MSH-2 exactly as received (4 characters, or 5 with the v2.7 truncation character) when it is usable as is. */
function encodingCharacters(h: Hl7Header | undefined, d: Hl7Delimiters): string {
  const raw = h?.encodingCharacters ?? '';
  const four = raw.slice(0, 4);
  if ((raw.length === 4 || raw.length === 5) && new Set(four + d.field).size === 5) return raw;
  return `${d.component}${d.repetition}${d.escape || '\\'}${d.subcomponent}`;
}

/** HD fields are copied component by component so escapes and components survive the mirror. */
function setHd(msg: Message, field: number, raw: string, d: Hl7Delimiters | undefined): void {
  if (raw === '') return;
  const comps = d ? raw.split(d.component) : [raw];
  comps.forEach((c, i) => {
    if (c !== '') msg.set(`MSH.${field}.${i + 1}`, (d ? unescapeHl7(c, d) : c).replace(/\u0000/g, ''));
  });
}

/** ERR for v2.5+ (ERR-2 location, ERR-3 code, ERR-4 severity, ERR-5 our code, ERR-8 rule); ERR-1 (ELD) before v2.5. */
function addErr(msg: Message, e: AckError, version: string): void {
  const err = msg.addSegment('ERR');
  const loc = e.where ? parseHl7Path(e.where) : undefined;
  if (!atLeast(version, 2, 5)) {
    if (loc) {
      err.set('1.1', loc.segment);
      err.set('1.2', String(loc.segmentRep));
      if (loc.field !== undefined) err.set('1.3', String(loc.field));
    }
    err.set('1.4.1', e.hl7Code);
    err.set('1.4.2', HL7_ERROR_CODES[e.hl7Code]);
    err.set('1.4.3', 'HL70357');
    return;
  }
  if (loc) {
    err.set('2.1', loc.segment);
    err.set('2.2', String(loc.segmentRep));
    if (loc.field !== undefined) err.set('2.3', String(loc.field));
    if (loc.rep !== undefined) err.set('2.4', String(loc.rep));
    if (loc.component !== undefined) err.set('2.5', String(loc.component));
    if (loc.subcomponent !== undefined) err.set('2.6', String(loc.subcomponent));
  }
  err.set('3.1', e.hl7Code);
  err.set('3.2', HL7_ERROR_CODES[e.hl7Code]);
  err.set('3.3', 'HL70357');
  err.set('4', e.severity);
  if (e.appCode) {
    err.set('5.1', e.appCode);
    err.set('5.3', '99PSL');
  }
  if (e.text) err.set('8', e.text);
}

function versionOf(h: Hl7Header | undefined): string {
  return h?.version && /^\d+(\.\d+)*$/.test(h.version) ? h.version : '2.5.1';
}

function atLeast(version: string, ...min: number[]): boolean {
  const v = version.split('.').map(Number);
  for (let i = 0; i < min.length; i++) {
    const a = v[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

function headerKey(h: Hl7Header): string[] {
  return [h.fieldSeparator, h.encodingCharacters, h.sendingApplication, h.sendingFacility, h.receivingApplication,
    h.receivingFacility, h.messageType.trigger, h.processingId, h.version, h.charsets[0] ?? ''];
}

function delimiterKey(d: Hl7Delimiters): string {
  return `${d.field}${d.component}${d.repetition}${d.escape}${d.subcomponent}`;
}

/**
 * HL7 DTM (YYYYMMDDHHMMSS+ZZZZ) for an ACK's MSH-7, in UTC so replays do not depend on the host zone.
 * @param at - the instant
 */
export function hl7DateTime(at: Date): string {
  return `${at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}+0000`;
}
