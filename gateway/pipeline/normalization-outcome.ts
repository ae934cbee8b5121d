import type { NormalizationOutcome, Store } from '../core/ports.js';
import type { Identifier, RawMessage, RecordInput } from '../core/types.js';
import { operationOutcome, type Issue } from '../core/issues.js';
import { EXT_OK, EXT_RECORDS, NO_ISSUES, OUTCOME_SYSTEM, storedOutcome } from '../core/stored-outcome.js';

/**
 * OUTCOME_SYSTEM: index identifier of the OperationOutcome that records how a raw was normalized;
 * its value is the rawId. Readable through `GET /fhir/r4/OperationOutcome?identifier=<this>|<rawId>`.
 */
export { OUTCOME_SYSTEM };

/** Label on outcome records, so routing can leave them out. */
export const OUTCOME_LABEL = 'normalization-outcome';

const EXT_RAW = 'urn:passerelle:raw';

/**
 * A raw's normalization outcome as an OperationOutcome record: its issues (rules and locations,
 * never values, so no message content), whether it normalized, and the canonical ids it wrote.
 * Committed with the records and the queue completion, it is also the "done" marker: a replay
 * that finds it (same mapping) has nothing left to write (see readOutcome).
 * @param raw - the normalized raw (its feed and participant own the outcome)
 * @param mapping - normalizer name@version
 * @param outcome - what the worker publishes
 */
export function outcomeRecord(raw: RawMessage, mapping: string, outcome: NormalizationOutcome): RecordInput {
  const shown: Issue[] = outcome.issues.length > 0
    ? outcome.issues
    : [{ severity: 'information', code: 'informational', message: NO_ISSUES }];
  return {
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
  };
}

/**
 * Stores an outcome record on its own (outside a batch).
 * @param store - where the record goes
 * @param raw - the normalized raw
 * @param mapping - normalizer name@version
 * @param outcome - what the worker publishes
 */
export async function writeOutcome(store: Store, raw: RawMessage, mapping: string, outcome: NormalizationOutcome): Promise<string> {
  return (await store.putRecord(outcomeRecord(raw, mapping, outcome))).id;
}

/**
 * The stored outcome of a raw and the mapping that produced it, or undefined when the raw was
 * never fully normalized.
 * @param store - where outcomes are kept
 * @param rawId - the raw
 */
export function readOutcome(store: Store, rawId: string): Promise<{ mapping: string; outcome: NormalizationOutcome } | undefined> {
  return storedOutcome(store, rawId);
}

function outcomeIdentifier(rawId: string): Identifier {
  return { system: OUTCOME_SYSTEM, value: rawId };
}
