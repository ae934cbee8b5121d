import type { Builder } from './context.js';
import { mapProblems } from './clinical.js';
import { mapCommon, mapLooseObservations } from './common.js';

/** PPR^PC1–PC3 (problem add / update / delete) → Condition per PRB (problem-list-item). */
export function mapProblemMessage(b: Builder): void {
  const s = mapCommon(b);
  mapProblems(b, s);
  if (!b.r.seg('PRB')) b.issue('error', 'required', 'PRB', 'PRB segment is required in a problem message');
  mapLooseObservations(b, s);
}
