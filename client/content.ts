/**
 * Business type of an outgoing message, hidden from the gateway inside the payload
 * (ENVELOPE.md §3 inner `type`): derived from the FHIR body when the sender gives none.
 */

/**
 * @param fhir - the FHIR resource sent as body, if any
 * @returns `pa.request` / `claim.submit` for a Claim, `pa.decision` / `claim.response` for a
 * ClaimResponse, `fhir` for another resource, `text` without one
 */
export function guessType(fhir: Record<string, unknown> | undefined): string {
  if (!fhir) return 'text';
  if (fhir.resourceType === 'Claim') return fhir.use === 'preauthorization' ? 'pa.request' : 'claim.submit';
  if (fhir.resourceType === 'ClaimResponse') return fhir.use === 'preauthorization' ? 'pa.decision' : 'claim.response';
  return 'fhir';
}
