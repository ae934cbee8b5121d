import type { Identifier, IdentityConflictReason, RecordInput } from '../core/types.js';

/**
 * Identity rules shared by LmdbStore and RedisStore. A record is matched only on its match keys
 * (`matchKeys`, else its identifiers) and only among records of its identity domain (the writing
 * participant, or a domain the admin shares explicitly), so one participant's message can never
 * update, or gain access to, another participant's record.
 */

/** What a write does with the records its match keys found. */
export type MatchDecision =
  | { kind: 'create' }
  | { kind: 'update'; id: string }
  | { kind: 'conflict'; existingIds: string[]; reason: IdentityConflictReason };

/** An existing record a match key points at. */
export interface MatchCandidate {
  id: string;
  patientId?: string;
}

/** The identifiers that may link this input to an existing record. */
export function matchKeysOf(input: RecordInput): readonly Identifier[] {
  return input.matchKeys ?? input.identifiers;
}

/** Whose records a match may land on. */
export function identityDomainOf(input: Pick<RecordInput, 'identityDomain' | 'provenance'>): string {
  return input.identityDomain ?? input.provenance.participant;
}

/** The lookup string hashed into a match index key: domain, type and identifier all count. */
export function matchLookup(domain: string, resourceType: string, key: Identifier): string {
  return `${domain}\u0000${resourceType}\u0000${key.system}|${key.value}`;
}

/**
 * Decides from the distinct records the input's match keys point at. Two records, or a record
 * about another patient, is a conflict: the caller creates a new record and leaves those untouched.
 * @param input - the record being written
 * @param candidates - distinct existing records found through its match keys
 * @param notOnto - records an earlier record of the same message was written to
 */
export function decideMatch(input: RecordInput, candidates: readonly MatchCandidate[], notOnto?: ReadonlySet<string>): MatchDecision {
  if (candidates.length === 0) return { kind: 'create' };
  if (candidates.length > 1) return { kind: 'conflict', existingIds: candidates.map((c) => c.id).sort(), reason: 'ambiguous-match' };
  const only = candidates[0]!;
  if (notOnto?.has(only.id) === true) return { kind: 'conflict', existingIds: [only.id], reason: 'same-message' };
  if (input.patientId !== undefined && only.patientId !== undefined && only.patientId !== input.patientId) {
    return { kind: 'conflict', existingIds: [only.id], reason: 'other-patient' };
  }
  return { kind: 'update', id: only.id };
}
