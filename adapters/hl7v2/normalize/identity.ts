import type { Identifier } from '../../../gateway/core/types.js';
import { hdSystem } from './datatypes.js';
import type { Comp } from './reader.js';

/**
 * Identity trust rules of a feed: which identifiers prove that a record is the same entity as an
 * earlier one (the record's `matchKeys`). Everything else may stay in `identifiers` and in the
 * resource, but never merges two records.
 */
export interface Hl7v2IdentityOptions {
  /**
   * PID-3 / MRG-1 identifier types (CX-5, table 0203) a Patient may be matched on, when the CX also
   * names its assigning authority (CX-4). Default `['MR', 'PI']`. Types in {@link NEVER_MATCH}
   * are refused even when listed.
   */
  patientIdentifierTypes?: string[];
  /**
   * The feed sends the national identifier (French INS, `urn:oid:1.2.250.1.213.1.4.8` / `.4.10`)
   * only once qualified (checked against the national teleservice): then it is a match key.
   * Default false: an INS is kept but never matched on.
   */
  qualifiedNationalId?: boolean;
}

/** The rules with their defaults applied. */
export interface IdentityRules {
  patientTypes: ReadonlySet<string>;
  qualifiedNationalId: boolean;
}

/**
 * Identifier types that never prove identity: SSN / national insurance numbers (shared, mistyped,
 * reused), account and visit numbers (one patient has many), licences and the like.
 */
export const NEVER_MATCH: ReadonlySet<string> = new Set(['SS', 'NI', 'NNFRA', 'AN', 'VN', 'AND', 'DL', 'PPN', 'BC', 'PEN', 'PN', 'NH', 'NIIP']);

/** French INS (NIR-based, `.4.8`; NIA, `.4.10`) systems. */
export const NATIONAL_ID_SYSTEMS: ReadonlySet<string> = new Set(['urn:oid:1.2.250.1.213.1.4.8', 'urn:oid:1.2.250.1.213.1.4.10']);

/** Rules from options (defaults in this one place). */
export function identityRules(o: Hl7v2IdentityOptions = {}): IdentityRules {
  const types = o.patientIdentifierTypes ?? ['MR', 'PI'];
  return {
    patientTypes: new Set(types.map((t) => t.toUpperCase()).filter((t) => !NEVER_MATCH.has(t))),
    qualifiedNationalId: o.qualifiedNationalId === true,
  };
}

/**
 * A placeholder sent when the real value is unknown: one character repeated (`000000`,
 * `999999999`, a run of one letter) or a word such as `UNKNOWN`. Never a match key.
 */
export function isPlaceholder(value: string): boolean {
  const v = value.trim().toUpperCase();
  if (v.length === 0) return true;
  if (/^(.)\1*$/.test(v)) return true;
  return /^(UNK|UNKNOWN|NONE|NULL|N\/A|INCONNU)$/.test(v);
}

/**
 * The CX repetitions (PID-3, MRG-1) that may identify the Patient under the rules: a trusted type
 * with an assigning authority, or a qualified national identifier; never a placeholder.
 */
export function patientMatchKeys(reps: readonly Comp[], rules: IdentityRules): Identifier[] {
  const out: Identifier[] = [];
  for (const c of reps) {
    const value = c.c(1);
    const system = hdSystem(c.c(4, 1), c.c(4, 2), c.c(4, 3));
    if (!value || !system || isPlaceholder(value)) continue;
    const type = c.c(5).toUpperCase();
    const trusted = NATIONAL_ID_SYSTEMS.has(system)
      ? rules.qualifiedNationalId
      : rules.patientTypes.has(type) && !NEVER_MATCH.has(type);
    if (trusted && !out.some((k) => k.system === system && k.value === value)) out.push({ system, value });
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
