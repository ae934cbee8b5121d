import type { Builder } from './context.js';
import { mapAllergies, mapCoverages, mapDiagnoses, mapProcedures } from './clinical.js';
import { mapEncounter } from './encounter.js';
import { mapObservation } from './observation.js';
import { mapMerge, mapPatient } from './patient.js';

/** ADT events that merge or re-identify patients (MRG segment). */
const MERGES = new Set(['A18', 'A34', 'A35', 'A36', 'A39', 'A40', 'A41', 'A42', 'A47', 'A48', 'A49']);

/**
 * ADT (A01–A17, A28/A31 person updates, A40/A47 merges, A60 allergies): Patient, Encounter,
 * Practitioners, Conditions (DG1), AllergyIntolerances (AL1/IAM), Procedures (PR1),
 * Coverages (IN1/IN2) and the OBX observations some senders add (height, weight…).
 */
export function mapAdt(b: Builder): void {
  const evn = b.r.seg('EVN');
  // EVN-1 repeats MSH-9.2 and EVN-2 is the sender's record time; neither adds clinical content.
  evn?.consume(1, 2);
  const patientRef = mapPatient(b);
  if (MERGES.has(b.event) && patientRef) mapMerge(b, patientRef);
  const encounterRef = mapEncounter(b, patientRef);
  const s = { patientRef, encounterRef };
  mapDiagnoses(b, s);
  mapAllergies(b, s);
  mapProcedures(b, s);
  mapCoverages(b, s);
  const segs = b.r.segments;
  segs.forEach((seg, i) => {
    if (seg.name !== 'OBX') return;
    const notes = [];
    for (let j = i + 1; j < segs.length && segs[j]!.name === 'NTE'; j++) notes.push(segs[j]!);
    mapObservation(b, seg, { patientRef, encounterRef, notes });
  });
}
