import type { Hl7Delimiters } from './escape.js';
import { parseHl7Path, type Hl7Path } from './path.js';
import { Hl7Segment, type Hl7Presence } from './segment.js';

/**
 * MSH fields a gateway needs before normalizing: routing, dedupe and the ACK. The application and
 * facility fields are raw HD text (escapes intact) so an ACK can copy them verbatim, swapped.
 */
export interface Hl7Header {
  readonly fieldSeparator: string;
  /** MSH-2 exactly as sent, for the ACK's own MSH-2. */
  readonly encodingCharacters: string;
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly receivingApplication: string;
  readonly receivingFacility: string;
  /** MSH-7 as sent. */
  readonly dateTime: string;
  /** MSH-9: message code, trigger event, message structure. */
  readonly messageType: { readonly code: string; readonly trigger: string; readonly structure: string };
  /** MSH-10. */
  readonly controlId: string;
  /** MSH-11.1: P, D or T. */
  readonly processingId: string;
  /** MSH-12.1. */
  readonly version: string;
  /** MSH-15 and MSH-16: when either is valued the sender expects enhanced-mode acknowledgments. */
  readonly acceptAckType: string;
  readonly appAckType: string;
  /** MSH-18 repetitions (first one applies to the whole message). */
  readonly charsets: readonly string[];
}

/** Offsets of the segments found by the parser; the message slices them on demand. */
export interface SegmentIndex {
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  readonly names: readonly string[];
}

/**
 * A parsed ER7 message. Parsing only located the segments; everything else is computed on access
 * and cached per segment, so reading the ten fields a normalizer needs costs little more than a scan.
 */
export class Hl7Message {
  /** The decoded message text. */
  readonly text: string;
  readonly delimiters: Hl7Delimiters;
  /** How the bytes were decoded (`string` when text was given). */
  readonly encoding: 'utf-8' | 'latin1' | 'string';
  private readonly idx: SegmentIndex;
  private readonly cache: (Hl7Segment | undefined)[];
  private byName: Map<string, number[]> | undefined;
  private header_: Hl7Header | undefined;

  /**
   * Built by {@link parseHl7}; not meant to be constructed directly.
   * @param text - decoded text
   * @param delimiters - from MSH-1/MSH-2
   * @param idx - segment offsets within text
   * @param encoding - decoding applied
   */
  constructor(text: string, delimiters: Hl7Delimiters, idx: SegmentIndex, encoding: Hl7Message['encoding']) {
    this.text = text;
    this.delimiters = delimiters;
    this.idx = idx;
    this.encoding = encoding;
    this.cache = new Array<Hl7Segment | undefined>(idx.names.length);
  }

  /** Number of segments, MSH included. */
  get segmentCount(): number {
    return this.idx.names.length;
  }

  /** Segment IDs in message order (cheap: no segment is split). */
  get segmentNames(): readonly string[] {
    return this.idx.names;
  }

  /**
   * The segment at a position (0-based), or undefined.
   * @param i - position in the message
   */
  segmentAt(i: number): Hl7Segment | undefined {
    if (!(i >= 0 && i < this.idx.names.length)) return undefined;
    let s = this.cache[i];
    if (!s) {
      s = new Hl7Segment(this.text.slice(this.idx.starts[i], this.idx.ends[i]), this.idx.names[i]!, i, this.delimiters);
      this.cache[i] = s;
    }
    return s;
  }

  /**
   * All segments, or those with one ID, in message order (Z-segments included).
   * @param name - segment ID filter
   */
  segments(name?: string): Hl7Segment[] {
    const positions = name === undefined ? this.idx.names.map((_, i) => i) : this.positions(name);
    return positions.map((i) => this.segmentAt(i)!);
  }

  /**
   * The n-th occurrence (1-based) of a segment.
   * @param name - segment ID
   * @param occurrence - 1 for the first
   */
  segment(name: string, occurrence = 1): Hl7Segment | undefined {
    const i = this.positions(name)[occurrence - 1];
    return i === undefined ? undefined : this.segmentAt(i);
  }

  /**
   * Decoded leaf value; '' when absent, empty or HL7 null. Omitted indices default to 1.
   * @example msg.get('PID-5.1') · msg.get('OBX[2]-5') · msg.get('PID', 1, 3, 2, 1)
   */
  get(path: string | Hl7Path): string;
  get(segment: string, occurrence: number, field: number, rep?: number, component?: number, subcomponent?: number): string;
  get(p: string | Hl7Path, occurrence?: number, field?: number, rep = 1, component = 1, subcomponent = 1): string {
    if (occurrence !== undefined) return this.segment(p as string, occurrence)?.get(field ?? 1, rep, component, subcomponent) ?? '';
    const path = typeof p === 'string' ? parseHl7Path(p) : p;
    if (!path || path.field === undefined) return '';
    return this.segment(path.segment, path.segmentRep)?.get(path.field, path.rep ?? 1, path.component ?? 1, path.subcomponent ?? 1) ?? '';
  }

  /**
   * Raw text at a path, escapes intact; a path without a component gives the whole repetition,
   * without a repetition the whole field, without a field the whole segment.
   * @param path - e.g. `PID-3`, `PID-3[2]`, `MSH-9.1`
   */
  raw(path: string | Hl7Path): string {
    const p = typeof path === 'string' ? parseHl7Path(path) : path;
    if (!p) return '';
    const seg = this.segment(p.segment, p.segmentRep);
    if (!seg) return '';
    if (p.field === undefined) return seg.text;
    return seg.raw(p.field, p.rep ?? (p.component === undefined ? undefined : 1), p.component, p.subcomponent);
  }

  /**
   * Whether a path is empty, HL7 null (`""`) or valued. Granularity follows the path, like {@link raw}.
   * @param path - e.g. `PID-8`
   */
  presence(path: string | Hl7Path): Hl7Presence {
    const r = this.raw(path);
    return r === '' ? 'empty' : r === '""' ? 'null' : 'value';
  }

  /**
   * Decoded leaf values across every repetition of the field, e.g. all PID-3.1 identifiers.
   * @param path - e.g. `PID-3.1`; a repetition index in the path is ignored
   */
  values(path: string | Hl7Path): string[] {
    const p = typeof path === 'string' ? parseHl7Path(path) : path;
    if (!p || p.field === undefined) return [];
    const seg = this.segment(p.segment, p.segmentRep);
    if (!seg) return [];
    const out: string[] = [];
    for (let r = 1, n = seg.repetitionCount(p.field); r <= n; r++) out.push(seg.get(p.field, r, p.component ?? 1, p.subcomponent ?? 1));
    return out;
  }

  /** MSH fields for routing and acknowledgment (computed once). */
  get header(): Hl7Header {
    if (this.header_) return this.header_;
    const msh = this.segmentAt(0)!;
    const charsets: string[] = [];
    for (let r = 1, n = msh.repetitionCount(18); r <= n; r++) charsets.push(msh.get(18, r));
    this.header_ = {
      fieldSeparator: this.delimiters.field,
      encodingCharacters: msh.raw(2),
      sendingApplication: msh.raw(3),
      sendingFacility: msh.raw(4),
      receivingApplication: msh.raw(5),
      receivingFacility: msh.raw(6),
      dateTime: msh.get(7),
      messageType: { code: msh.get(9, 1, 1), trigger: msh.get(9, 1, 2), structure: msh.get(9, 1, 3) },
      controlId: msh.get(10),
      processingId: msh.get(11),
      version: msh.get(12),
      acceptAckType: msh.get(15),
      appAckType: msh.get(16),
      charsets,
    };
    return this.header_;
  }

  private positions(name: string): number[] {
    if (!this.byName) {
      const m = new Map<string, number[]>();
      this.idx.names.forEach((n, i) => {
        const list = m.get(n);
        if (list) list.push(i);
        else m.set(n, [i]);
      });
      this.byName = m;
    }
    return this.byName.get(name) ?? [];
  }
}
