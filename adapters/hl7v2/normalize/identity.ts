import type { Identifier } from '../../../gateway/core/types.js';
import { isPlaceholder, provesPatientIdentity, type IdentityRules } from '../../identity.js';
import { hdSystem } from './datatypes.js';
import type { Comp } from './reader.js';

export { NATIONAL_ID_SYSTEMS, NEVER_MATCH, identityRules, isPlaceholder, type IdentityOptions as Hl7v2IdentityOptions, type IdentityRules } from '../../identity.js';

/**
 * The CX repetitions (PID-3, MRG-1) that may identify the Patient under the rules
 * (provesPatientIdentity), the system read from the assigning authority (CX-4).
 */
export function patientMatchKeys(reps: readonly Comp[], rules: IdentityRules): Identifier[] {
  const out: Identifier[] = [];
  for (const c of reps) {
    const value = c.c(1);
    const system = hdSystem(c.c(4, 1), c.c(4, 2), c.c(4, 3));
    if (!system || !provesPatientIdentity(system, value, c.c(5), rules)) continue;
    if (!out.some((k) => k.system === system && k.value === value)) out.push({ system, value });
  }
  return out;
}

/** Composite key systems: one per kind of business entity, so kinds never match each other. */
export const KEY_SYSTEM = {
  order: 'urn:passerelle:order',
  fillerOrder: 'urn:passerelle:filler-order',
  report: 'urn:passerelle:report',
  appointment: 'urn:passerelle:appointment',
  specimen: 'urn:passerelle:specimen',
} as const;

/**
 * One composite match key from the identifiers that together name an entity (placer AND filler,
 * each with its namespace), e.g. `PLAC=urn:…|123~FILL=urn:…|A9`. Empty when none is valued or all
 * are placeholders.
 */
export function compositeKey(system: string, parts: ReadonlyArray<readonly [string, Identifier | undefined]>): Identifier[] {
  const seen = new Set<string>();
  const value = parts
    .filter((p): p is readonly [string, Identifier] => p[1] !== undefined && !isPlaceholder(p[1].value))
    .map(([label, id]) => `${label}=${id.system}|${id.value}`)
    .filter((s) => !seen.has(s) && seen.add(s) !== undefined)
    .join('~');
  return value ? [{ system, value }] : [];
}
