import type { NormalizationOutcome, Store } from './ports.js';
import { ISSUE_CODES, type Issue, type IssueCode } from './issues.js';

/**
 * How a raw's normalization outcome is kept: an OperationOutcome record the normalize worker writes
 * (gateway/pipeline/normalization-outcome.ts) and adapters read back (retransmitted application
 * ACKs). One reader, in core, because adapters may import gateway/core only.
 */
export const OUTCOME_SYSTEM = 'urn:passerelle:normalization-outcome';
export const EXT_OK = 'urn:passerelle:normalized';
export const EXT_RECORDS = 'urn:passerelle:records';
/** The informational issue an outcome without issues carries (FHIR needs at least one). */
export const NO_ISSUES = 'normalized without issues';

/**
 * The stored outcome of rawId and the mapping that produced it, or undefined while it is pending.
 * @param store - where outcomes are kept
 * @param rawId - the raw
 */
export async function storedOutcome(store: Pick<Store, 'findByIdentifier'>, rawId: string): Promise<{ mapping: string; outcome: NormalizationOutcome } | undefined> {
  const [record] = await store.findByIdentifier({ system: OUTCOME_SYSTEM, value: rawId }, 'OperationOutcome');
  if (record === undefined) return undefined;
  const r = record.resource as {
    issue?: Array<{ severity?: string; code?: string; diagnostics?: string; expression?: string[] }>;
    extension?: Array<{ url?: string; valueBoolean?: boolean; valueString?: string }>;
  };
  const ext = (url: string): { valueBoolean?: boolean; valueString?: string } | undefined => r.extension?.find((e) => e.url === url);
  const issues: Issue[] = (r.issue ?? [])
    .filter((i) => !(i.code === 'informational' && i.diagnostics === NO_ISSUES))
    .map((i) => ({
      severity: isSeverity(i.severity) ? i.severity : 'error',
      code: ISSUE_CODES.includes(i.code as IssueCode) ? (i.code as IssueCode) : 'processing',
      message: i.diagnostics ?? '',
      ...(i.expression?.[0] === undefined ? {} : { where: i.expression[0] }),
    }));
  const ids = ext(EXT_RECORDS)?.valueString;
  return {
    mapping: record.provenance.mapping,
    outcome: { rawId, ok: ext(EXT_OK)?.valueBoolean === true, issues, recordIds: ids ? ids.split(' ') : [] },
  };
}

function isSeverity(s: unknown): s is Issue['severity'] {
  return s === 'fatal' || s === 'error' || s === 'warning' || s === 'information';
}
