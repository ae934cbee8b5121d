import type { NormalizationOutcome, Store } from '../../gateway/core/ports.js';
import { ISSUE_CODES, type Issue, type IssueCode } from '../../gateway/core/issues.js';

/**
 * Reads a raw's stored normalization outcome, the OperationOutcome the normalize worker writes
 * (gateway/pipeline/normalization-outcome.ts `writeOutcome`). Adapters may import gateway/core only,
 * so this mirrors `readOutcome`'s reading of that record; test/integration/mllp-resend.test.ts writes
 * with `writeOutcome` and reads with this, so the two cannot drift apart unnoticed.
 */
const OUTCOME_SYSTEM = 'urn:passerelle:normalization-outcome';
const EXT_OK = 'urn:passerelle:normalized';
const EXT_RECORDS = 'urn:passerelle:records';
const NO_ISSUES = 'normalized without issues';

/** The store access needed to read outcomes back. */
export type OutcomeSource = Pick<Store, 'findByIdentifier'>;

/**
 * The stored outcome of rawId, or undefined while normalization is still pending.
 * @param store - where outcomes are kept
 * @param rawId - the raw
 */
export async function storedOutcome(store: OutcomeSource, rawId: string): Promise<NormalizationOutcome | undefined> {
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
  return { rawId, ok: ext(EXT_OK)?.valueBoolean === true, issues, recordIds: ids ? ids.split(' ') : [] };
}

function isSeverity(s: unknown): s is Issue['severity'] {
  return s === 'fatal' || s === 'error' || s === 'warning' || s === 'information';
}
