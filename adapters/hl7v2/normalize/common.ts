import { mapAllergies, mapCoverages, mapDiagnoses, mapProcedures, type Subject } from './clinical.js';
import type { Builder } from './context.js';
import { mapEncounter } from './encounter.js';
import { mapAccidents, mapDeathCauses } from './events.js';
import { mapObservation } from './observation.js';
import { patientGroups, type PatientGroup } from './groups.js';
import { mapPatient } from './patient.js';
import type { SegReader } from './reader.js';

/**
 * The segments every family shares: PID (+PD1, NK1) → Patient, PV1/PV2 → Encounter, DG1 →
 * Condition, AL1/IAM → AllergyIntolerance, PR1 → Procedure, IN1/IN2 → Coverage, PDA-1 →
 * Condition (cause of death), ACC → Observation (injury incident).
 * @returns the patient and encounter local refs the family's own records hang on
 */
export function mapCommon(b: Builder): Subject {
  const groups = patientGroups(b);
  if (groups.length > 1) {
    // Only ADT and BAR define repeated patient groups; elsewhere the extra PIDs stay reported unmapped.
    b.issue('warning', 'not-supported', 'PID[2]', 'the message repeats the patient group; only the first PID group is mapped');
  }
  return mapGroup(b, groups[0]!, groups.length > 1);
}

/**
 * Every patient group of the message (ADT^A17 swaps, merge lists, BAR^P02), each with its own
 * records, and within a group every visit (BAR^P01 sends several PV1 groups for one patient):
 * one entry per visit, `visit` 1 for the first.
 */
export function mapCommonGroups(b: Builder): Array<{ group: PatientGroup; subject: Subject; visit: number }> {
  const groups = patientGroups(b);
  return groups.flatMap((group) => {
    const patientRef = mapPatient(b, group);
    return visitGroups(group).map((v, i) => ({ group, subject: mapVisit(b, v, patientRef, groups.length > 1 || i > 0 || v !== group), visit: i + 1 }));
  });
}

/**
 * The visits of a patient group: one per PV1, from that PV1 to the next (the first also keeps
 * what precedes it). A group with at most one PV1 is its own single visit.
 */
function visitGroups(g: PatientGroup): PatientGroup[] {
  const starts = g.segs.flatMap((s, i) => (s.name === 'PV1' ? [i] : []));
  if (starts.length <= 1) return [g];
  return starts.map((start, i) => ({
    ...g,
    segs: g.segs.slice(i === 0 ? 0 : start, starts[i + 1] ?? g.segs.length),
    encounterRef: i === 0 ? g.encounterRef : `${g.encounterRef}-visit-${i + 1}`,
  }));
}

function mapGroup(b: Builder, g: PatientGroup, scopedToGroup: boolean): Subject {
  return mapVisit(b, g, mapPatient(b, g), scopedToGroup);
}

function mapVisit(b: Builder, g: PatientGroup, patientRef: string | undefined, scopedToGroup: boolean): Subject {
  // EVN-1 repeats MSH-9.2 and EVN-2 is the sender's record time; neither adds clinical content.
  b.r.seg('EVN')?.consume(1, 2);
  const encounterRef = mapEncounter(b, patientRef, g);
  const s: Subject = scopedToGroup ? { patientRef, encounterRef, segs: g.segs } : { patientRef, encounterRef };
  mapDiagnoses(b, s);
  mapAllergies(b, s);
  mapProcedures(b, s);
  mapCoverages(b, s);
  mapDeathCauses(b, s);
  mapAccidents(b, s);
  return s;
}

/**
 * OBX segments no order claimed (ADT vitals, SIU/BAR observations), each with the NTEs after it.
 * @param skip - OBX segments already mapped by the family (e.g. a document's text)
 */
export function mapLooseObservations(b: Builder, s: Subject, skip: ReadonlySet<SegReader> = new Set()): void {
  const segs = s.segs ?? b.r.segments;
  segs.forEach((seg, i) => {
    if (seg.name !== 'OBX' || skip.has(seg)) return;
    const notes: SegReader[] = [];
    for (let j = i + 1; j < segs.length && segs[j]!.name === 'NTE'; j++) notes.push(segs[j]!);
    mapObservation(b, seg, { patientRef: s.patientRef, encounterRef: s.encounterRef, notes });
  });
}
