/**
 * Data problems are values. An Issue maps 1:1 onto FHIR OperationOutcome.issue, an HL7 ERR
 * segment and a CSV row/column report. `where` names a location (`PID-7`, `row 12 column dob`),
 * `message` names the rule; neither ever carries the offending value.
 */
export const ISSUE_CODES = [
  'structure', 'required', 'value', 'invariant', 'code-invalid', 'not-supported', 'duplicate',
  'too-long', 'security', 'forbidden', 'processing', 'not-found', 'exception', 'informational', 'conflict',
] as const;
export type IssueCode = (typeof ISSUE_CODES)[number];

export interface Issue {
  severity: 'fatal' | 'error' | 'warning' | 'information';
  code: IssueCode;
  where?: string;
  message: string;
}

/** FHIR R4 OperationOutcome built from issues. */
export function operationOutcome(issues: readonly Issue[]): {
  resourceType: 'OperationOutcome';
  issue: Array<{ severity: string; code: string; diagnostics: string; expression?: string[] }>;
} {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => ({
      severity: i.severity,
      code: i.code,
      diagnostics: i.message,
      ...(i.where ? { expression: [i.where] } : {}),
    })),
  };
}
