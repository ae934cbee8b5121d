import type { Logger } from 'pino';
import { operationOutcome, type Issue } from '../../gateway/core/issues.js';
import type { NormalizationEvents, NormalizationOutcome, Store } from '../../gateway/core/ports.js';
import { storedOutcome } from '../../gateway/core/stored-outcome.js';
import type { CanonicalRecord } from '../../gateway/core/types.js';
import { OutcomeRouter } from '../outcome-router.js';
import type { FhirReply } from './fhir-answer.js';
import { refusal } from './fhir-request.js';

/** The records a stored write became, or the reply that says why there are none (yet). */
export type WriteResult = { ok: true; records: CanonicalRecord[]; issues: Issue[] } | { ok: false; reply: FhirReply };

/**
 * How a FHIR write learns what normalization made of it: the worker's outcome event, or for a
 * duplicate the stored outcome of its original, within `answerWithinMs`.
 */
export class WriteOutcomes {
  readonly #router: OutcomeRouter;
  readonly #store: Pick<Store, 'getRecord' | 'findByIdentifier'>;
  readonly #log: Logger;
  readonly #waitMs: number;

  constructor(options: { events: NormalizationEvents; store: Pick<Store, 'getRecord' | 'findByIdentifier'>; log: Logger; answerWithinMs: number }) {
    this.#router = new OutcomeRouter(options.events);
    this.#store = options.store;
    this.#log = options.log;
    this.#waitMs = options.answerWithinMs;
  }

  /**
   * The records normalization wrote for a raw: 202 when it takes longer than the wait, 422 when it
   * failed, or the records with every issue (`warnings` from validation first).
   */
  async recordsOf(stored: { rawId: string; status: 'stored' | 'duplicate' }, warnings: readonly Issue[]): Promise<WriteResult> {
    const { rawId } = stored;
    const outcome = await this.#waitFor(rawId, stored.status === 'duplicate');
    if (!outcome) {
      return { ok: false, reply: { status: 202, body: operationOutcome([{ severity: 'information', code: 'informational', message: `stored as raw ${rawId}; its records are not written yet` }]), headers: { 'Content-Location': `/v1/raw/${rawId}` } } };
    }
    if (!outcome.ok) return { ok: false, reply: refusal(422, outcome.issues) };
    const records = await Promise.all(outcome.recordIds.map((id) => this.#store.getRecord(id)));
    return { ok: true, records: records.filter((r): r is CanonicalRecord => r !== undefined), issues: [...warnings, ...outcome.issues] };
  }

  close(): void {
    this.#router.close();
  }

  /**
   * A new raw's outcome comes as an event (one the worker published before the wait began is
   * kept by the router); a duplicate's may have been stored long ago, so it is also looked up.
   */
  #waitFor(rawId: string, lookUp: boolean): Promise<NormalizationOutcome | undefined> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (o: NormalizationOutcome | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        cancel();
        resolve(o);
      };
      const timer = setTimeout(() => finish(undefined), this.#waitMs);
      const cancel = this.#router.expect(rawId, finish);
      if (!lookUp) return;
      storedOutcome(this.#store, rawId).then((s) => {
        if (s) finish(s.outcome);
      }, (err: unknown) => this.#log.warn({ err, rawId }, 'stored outcome not read'));
    });
  }
}
