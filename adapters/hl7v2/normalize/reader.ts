import type { Hl7Message } from '../message.js';
import type { Hl7Segment } from '../segment.js';

/**
 * One field repetition seen as a datatype: `c(n)` is component n, `c(n, s)` subcomponent s of it
 * (decoded, '' when absent or HL7 null). Datatype helpers only ever see this, so every read they
 * make is already accounted for by the {@link SegReader} that built it.
 */
export interface Comp {
  c(component: number, subcomponent?: number): string;
  /** Location for issues, e.g. `OBX[2]-5`. Never carries the value. */
  readonly where: string;
  /** True when any component is valued. */
  readonly valued: boolean;
}

/**
 * A segment wrapper that records which fields a mapping read. Coverage is computed from these
 * reads at the end, so "unmapped" means "no mapping looked at it", not a hand-kept list that
 * drifts from the code.
 */
export class SegReader {
  /** Occurrence of this segment ID in the message (1-based). */
  readonly occurrence: number;
  readonly seg: Hl7Segment;
  private readonly readFields = new Set<number>();

  constructor(seg: Hl7Segment, occurrence: number) {
    this.seg = seg;
    this.occurrence = occurrence;
  }

  /** Segment ID. */
  get name(): string {
    return this.seg.name;
  }

  /** Provenance location, always indexed: `PID[1]`, `OBX[3]`. */
  get loc(): string {
    return `${this.seg.name}[${this.occurrence}]`;
  }

  /**
   * Issue location in the parser's spelling: `PID-7`, `OBX[2]-5` (occurrence only when > 1).
   * @param field - field number
   */
  where(field: number): string {
    return this.occurrence > 1 ? `${this.seg.name}[${this.occurrence}]-${field}` : `${this.seg.name}-${field}`;
  }

  /** Decoded leaf value, marking the field as read. */
  get(field: number, rep = 1, component = 1, subcomponent = 1): string {
    this.readFields.add(field);
    return this.seg.get(field, rep, component, subcomponent).trim();
  }

  /** Number of repetitions of a field (marks it read). */
  reps(field: number): number {
    this.readFields.add(field);
    return this.seg.repetitionCount(field);
  }

  /** One repetition as a datatype accessor (marks the field read). */
  comp(field: number, rep = 1): Comp {
    this.readFields.add(field);
    const seg = this.seg;
    return {
      c: (component: number, subcomponent = 1) => seg.get(field, rep, component, subcomponent).trim(),
      where: this.where(field),
      valued: seg.presence(field, rep) === 'value',
    };
  }

  /** Every valued repetition of a field as datatype accessors (marks the field read). */
  all(field: number): Comp[] {
    const out: Comp[] = [];
    for (let r = 1, n = this.reps(field); r <= n; r++) {
      const c = this.comp(field, r);
      if (c.valued) out.push(c);
    }
    return out;
  }

  /** Mark fields as deliberately consumed without reading them (e.g. set IDs, MSH delimiters). */
  consume(...fields: number[]): void {
    for (const f of fields) this.readFields.add(f);
  }

  /** Populated fields (valued or HL7 null) and, among them, those read. */
  coverage(): { populated: number[]; read: number[] } {
    const populated: number[] = [];
    const read: number[] = [];
    for (let f = 1, n = this.seg.fieldCount; f <= n; f++) {
      if (this.seg.presence(f) === 'empty') continue;
      populated.push(f);
      if (this.readFields.has(f)) read.push(f);
    }
    return { populated, read };
  }
}

/** Segment readers for one message, created once so reads accumulate per segment. */
export class MessageReader {
  readonly msg: Hl7Message;
  /** All segments in message order. */
  readonly segments: readonly SegReader[];

  constructor(msg: Hl7Message) {
    this.msg = msg;
    const counts = new Map<string, number>();
    this.segments = msg.segments().map((s) => {
      const n = (counts.get(s.name) ?? 0) + 1;
      counts.set(s.name, n);
      return new SegReader(s, n);
    });
    // MSH-1 and MSH-2 are the delimiters themselves: consumed by the parser, not by a mapping.
    this.segments[0]?.consume(1, 2);
  }

  /** The n-th (1-based) segment with this ID. */
  seg(name: string, occurrence = 1): SegReader | undefined {
    let n = 0;
    for (const s of this.segments) if (s.name === name && ++n === occurrence) return s;
    return undefined;
  }

  /** Every segment with this ID, in order. */
  all(name: string): SegReader[] {
    return this.segments.filter((s) => s.name === name);
  }
}

/**
 * A component whose parts are subcomponents (an EI or HD inside an EIP, SPS or XCN) seen as a
 * datatype of its own, so the same helpers read it.
 * @param c - the outer datatype
 * @param component - which component holds the nested type
 */
export function nested(c: Comp, component: number): Comp {
  let valued = false;
  for (let i = 1; i <= 6 && !valued; i++) valued = c.c(component, i) !== '';
  return { c: (i: number, s = 1) => (s > 1 ? '' : c.c(component, i)), where: `${c.where}.${component}`, valued };
}
