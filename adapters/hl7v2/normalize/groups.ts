import type { Builder } from './context.js';
import type { SegReader } from './reader.js';

/**
 * One patient group of a message: the PID and the segments up to the next PID. Most messages have
 * one; ADT^A17 (swap), the merge family (A40/A41/A47 with several PID/MRG pairs) and BAR^P02
 * repeat it, and each repetition is about a different patient.
 */
export interface PatientGroup {
  /** 0 for the first group. */
  index: number;
  /** Segments of the group; the whole message when it has a single PID. */
  segs: readonly SegReader[];
  patientRef: string;
  encounterRef: string;
}

/** Split the message into patient groups (a message without PID gives one group, the whole message). */
export function patientGroups(b: Builder): PatientGroup[] {
  const segs = b.r.segments;
  const starts = segs.flatMap((s, i) => (s.name === 'PID' ? [i] : []));
  if (starts.length <= 1) return [{ index: 0, segs, patientRef: 'patient', encounterRef: 'encounter' }];
  return starts.map((start, i) => ({
    index: i,
    segs: segs.slice(start, starts[i + 1] ?? segs.length),
    patientRef: i === 0 ? 'patient' : `patient-${i + 1}`,
    encounterRef: i === 0 ? 'encounter' : `encounter-${i + 1}`,
  }));
}

/** First segment of a group with this ID. */
export function firstIn(g: PatientGroup, name: string): SegReader | undefined {
  return g.segs.find((s) => s.name === name);
}

/** Every segment of a group with this ID. */
export function allIn(g: PatientGroup, name: string): SegReader[] {
  return g.segs.filter((s) => s.name === name);
}
