/**
 * Identity trust rules of a feed, for every format: which identifiers prove that a record is the
 * same patient as an earlier one (the record's `matchKeys`). Everything else may stay in
 * `identifiers` and in the resource, but never merges two records.
 */
export interface IdentityOptions {
  /**
   * Identifier types (HL7 table 0203: CX-5 in v2, `Identifier.type` in FHIR) a Patient may be
   * matched on, when the identifier also names its system (CX-4, `Identifier.system`). Default
   * `['MR', 'PI']`. Types in {@link NEVER_MATCH} are refused even when listed.
   */
  patientIdentifierTypes?: string[];
  /**
   * Identifier systems a Patient may be matched on whatever their type says (FHIR senders often
   * leave `Identifier.type` out): e.g. the sending hospital's own medical-record-number system.
   */
  patientIdentifierSystems?: string[];
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
  patientSystems: ReadonlySet<string>;
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
export function identityRules(o: IdentityOptions = {}): IdentityRules {
  const types = o.patientIdentifierTypes ?? ['MR', 'PI'];
  return {
    patientTypes: new Set(types.map((t) => t.toUpperCase()).filter((t) => !NEVER_MATCH.has(t))),
    patientSystems: new Set((o.patientIdentifierSystems ?? []).filter((s) => !NATIONAL_ID_SYSTEMS.has(s))),
    qualifiedNationalId: o.qualifiedNationalId === true,
  };
}

/**
 * Whether one patient identifier may link records under the rules: a qualified national
 * identifier, a listed system, or a trusted type; never a placeholder value, never a type in
 * {@link NEVER_MATCH}.
 * @param type - the table-0203 type code, '' when the sender gave none
 */
export function provesPatientIdentity(system: string, value: string, type: string, rules: IdentityRules): boolean {
  if (!system || !value || isPlaceholder(value)) return false;
  if (NATIONAL_ID_SYSTEMS.has(system)) return rules.qualifiedNationalId;
  const t = type.toUpperCase();
  if (NEVER_MATCH.has(t)) return false;
  return rules.patientSystems.has(system) || rules.patientTypes.has(t);
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
