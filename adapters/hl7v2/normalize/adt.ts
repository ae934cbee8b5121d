import type { Builder } from './context.js';
import { mapCommonGroups, mapLooseObservations } from './common.js';
import { mapMerge } from './patient.js';

/** ADT events that merge or re-identify patients (MRG segment). */
const MERGES = new Set(['A18', 'A34', 'A35', 'A36', 'A39', 'A40', 'A41', 'A42', 'A47', 'A48', 'A49']);

/**
 * ADT (A01–A17, A28/A31 person updates, A40/A47 merges, A60 allergies): Patient, Encounter,
 * Practitioners, Conditions (DG1), AllergyIntolerances (AL1/IAM), Procedures (PR1),
 * Coverages (IN1/IN2) and the OBX observations some senders add (height, weight…).
 */
export function mapAdt(b: Builder): void {
  for (const { group, subject, visit } of mapCommonGroups(b)) {
    if (MERGES.has(b.event) && subject.patientRef && visit === 1) mapMerge(b, group);
    mapLooseObservations(b, subject);
  }
}
