import { unescapeHl7, type Hl7Delimiters } from './escape.js';

/** Whether a value is absent or empty, the HL7 null `""` ("delete this value"), or has a value. */
export type Hl7Presence = 'empty' | 'null' | 'value';

const HL7_NULL = '""';

/** Header segments whose field 1 is the field separator itself, so field numbers shift by one. */
const HEADER_SEGMENTS = new Set(['MSH', 'BHS', 'FHS']);

/**
 * One segment, split lazily: field boundaries are found on first access, components and
 * subcomponents only along the path asked for, and escapes are decoded only in the leaf returned.
 */
export class Hl7Segment {
  /** Segment ID (`PID`, `ZPD`…). */
  readonly name: string;
  /** Raw segment text without its terminator (escapes intact), e.g. for echoing MSH into an ACK. */
  readonly text: string;
  /** Position of the segment in the message, 0-based. */
  readonly index: number;
  private readonly d: Hl7Delimiters;
  private readonly header: boolean;
  /** bounds[p] is where piece p starts; piece 0 is the segment name. */
  private bounds: number[] | undefined;

  /**
   * @param text - segment text without terminator
   * @param name - segment ID
   * @param index - position in the message
   * @param d - the message's delimiters
   */
  constructor(text: string, name: string, index: number, d: Hl7Delimiters) {
    this.text = text;
    this.name = name;
    this.index = index;
    this.d = d;
    this.header = HEADER_SEGMENTS.has(name);
  }

  /** Highest field number present (MSH counts MSH-1, the field separator). */
  get fieldCount(): number {
    const pieces = this.pieceBounds().length - 1;
    return this.header ? pieces : pieces - 1;
  }

  /**
   * Raw text of a field, a repetition, a component or a subcomponent ('' when absent).
   * Omitting `rep` returns the whole field with all repetitions.
   * @param field - field number (1-based)
   */
  raw(field: number, rep?: number, component?: number, subcomponent?: number): string {
    const f = this.fieldRaw(field);
    if (rep === undefined || f === '') return f;
    if (this.header && field <= 2) return rep === 1 && (component ?? 1) === 1 && (subcomponent ?? 1) === 1 ? f : '';
    const r = nth(f, this.d.repetition, rep);
    if (component === undefined) return r;
    const c = nth(r, this.d.component, component);
    return subcomponent === undefined ? c : nth(c, this.d.subcomponent, subcomponent);
  }

  /**
   * Decoded value of one leaf (escapes resolved); '' when absent, empty or the HL7 null `""`.
   * Unspecified indices default to 1, so `get(5)` is PID-5.1.1 as in HAPI's terser.
   * @param field - field number (1-based)
   */
  get(field: number, rep = 1, component = 1, subcomponent = 1): string {
    const leaf = this.raw(field, rep, component, subcomponent);
    if (leaf === HL7_NULL) return '';
    return this.header && field <= 2 ? leaf : unescapeHl7(leaf, this.d);
  }

  /** Tell empty, HL7 null and valued apart at any level (see {@link raw} for the arguments). */
  presence(field: number, rep?: number, component?: number, subcomponent?: number): Hl7Presence {
    const r = this.raw(field, rep, component, subcomponent);
    return r === '' ? 'empty' : r === HL7_NULL ? 'null' : 'value';
  }

  /** Number of repetitions of a field (0 when empty). */
  repetitionCount(field: number): number {
    const f = this.fieldRaw(field);
    if (this.header && field <= 2) return f === '' ? 0 : 1;
    return count(f, this.d.repetition);
  }

  /** Number of components in one repetition (0 when empty). */
  componentCount(field: number, rep = 1): number {
    if (this.header && field <= 2) return this.repetitionCount(field);
    return count(this.raw(field, rep), this.d.component);
  }

  /** Number of subcomponents in one component (0 when empty). */
  subcomponentCount(field: number, rep = 1, component = 1): number {
    if (this.header && field <= 2) return this.repetitionCount(field);
    return count(this.raw(field, rep, component), this.d.subcomponent);
  }

  private fieldRaw(field: number): string {
    if (!(field >= 1)) return '';
    if (this.header && field === 1) return this.d.field;
    const piece = this.header ? field - 1 : field;
    const b = this.pieceBounds();
    if (piece + 1 >= b.length) return '';
    return this.text.slice(b[piece], b[piece + 1]! - 1);
  }

  private pieceBounds(): number[] {
    if (this.bounds) return this.bounds;
    const b = [0];
    const sep = this.d.field;
    const t = this.text;
    for (let i = t.indexOf(sep); i !== -1; i = t.indexOf(sep, i + 1)) b.push(i + 1);
    b.push(t.length + 1);
    this.bounds = b;
    return b;
  }
}

/** The n-th (1-based) piece of s split by sep, without allocating the other pieces. */
function nth(s: string, sep: string, n: number): string {
  if (!(n >= 1)) return '';
  let start = 0;
  for (let k = 1; k < n; k++) {
    const i = s.indexOf(sep, start);
    if (i === -1) return '';
    start = i + 1;
  }
  const end = s.indexOf(sep, start);
  return end === -1 ? (start === 0 ? s : s.slice(start)) : s.slice(start, end);
}

function count(s: string, sep: string): number {
  if (s === '') return 0;
  let c = 1;
  for (let i = s.indexOf(sep); i !== -1; i = s.indexOf(sep, i + 1)) c++;
  return c;
}
