import type { NormalizationOutcome, Store } from '../core/ports.js';
import type { Identifier, RawMessage } from '../core/types.js';
import { ISSUE_CODES, operationOutcome, type Issue, type IssueCode } from '../core/issues.js';

/**
 * Index identifier of the OperationOutcome that records how a raw was normalized; its value is
 * the rawId. Readable through `GET /fhir/r4/OperationOutcome?identifier=<this>|<rawId>`.
 */
export const OUTCOME_SYSTEM = 'urn:passerelle:normalization-outcome';

/** Label on outcome records, so routing can leave them out. */
export const OUTCOME_LABEL = 'normalization-outcome';

const EXT_RAW = 'urn:passerelle:raw';
const EXT_OK = 'urn:passerelle:normalized';
const EXT_RECORDS = 'urn:passerelle:records';
const NO_ISSUES = 'normalized without issues';

/**
 * Stores a raw's normalization outcome as an OperationOutcome record: its issues (rules and
 * locations, never values, so no message content), whether it normalized, and the canonical ids it
 * wrote. Written after the records and before the queue item completes, it is also the "done"
 * marker: a replay that finds it (same mapping) has nothing left to write (see readOutcome).
 * @param store - where the record goes
 * @param raw - the normalized raw (its feed and participant own the outcome)
 * @param mapping - normalizer name@version
 * @param outcome - what the worker publishes
 */
export async function writeOutcome(store: Store, raw: RawMessage, mapping: string, outcome: NormalizationOutcome): Promise<string> {
  const shown: Issue[] = outcome.issues.length > 0
    ? outcome.issues
    : [{ severity: 'information', code: 'informational', message: NO_ISSUES }];
  const result = await store.putRecord({
    resourceType: 'OperationOutcome',
    resource: {
      ...operationOutcome(shown),
      extension: [
        { url: EXT_RAW, valueString: raw.id },
        { url: EXT_OK, valueBoolean: outcome.ok },
        ...(outcome.recordIds.length > 0 ? [{ url: EXT_RECORDS, valueString: outcome.recordIds.join(' ') }] : []),
      ],
    },
    identifiers: [outcomeIdentifier(raw.id)],
    labels: [OUTCOME_LABEL],
    provenance: {
      feed: raw.feed, participant: raw.participant, rawId: raw.id, location: 'message', mapping,
      receivedAt: raw.receivedAt.toISOString(),
    },
  });
  return result.id;
}

/**
 * The stored outcome of a raw and the mapping that produced it, or undefined when the raw was
 * never fully normalized.
 * @param store - where outcomes are kept
 * @param rawId - the raw
 */
export async function readOutcome(store: Store, rawId: string): Promise<{ mapping: string; outcome: NormalizationOutcome } | undefined> {
  const [record] = await store.findByIdentifier(outcomeIdentifier(rawId), 'OperationOutcome');
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

function outcomeIdentifier(rawId: string): Identifier {
  return { system: OUTCOME_SYSTEM, value: rawId };
}

function isSeverity(s: unknown): s is Issue['severity'] {
  return s === 'fatal' || s === 'error' || s === 'warning' || s === 'information';
}
