import type { NormalizationEvents, NormalizationOutcome } from '../gateway/core/ports.js';

type Waiter = (outcome: NormalizationOutcome) => void;

/**
 * Hands normalization outcomes to whoever waits on a raw: an MLLP connection that owes an
 * enhanced-mode application ACK (HL7 v2.5.1 §2.9.3), a FHIR create that answers with the record.
 * One subscription per feed; waiters register the raws they wait on and cancel when they give up.
 * Outcomes that arrive before the registration (the worker can be faster than the intake's reply)
 * are kept briefly so none is missed. Several waiters may wait on one raw: a resend of a message
 * still being normalized owes the same answer as the original.
 */
export class OutcomeRouter {
  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #early = new Map<string, NormalizationOutcome>();
  readonly #max: number;
  readonly #unsubscribe: () => void;

  /**
   * @param events - normalization outcomes from the worker
   * @param options - `max`: pending registrations and early outcomes kept (oldest dropped). Default 10 000.
   */
  constructor(events: NormalizationEvents, options: { max?: number } = {}) {
    this.#max = options.max ?? 10_000;
    this.#unsubscribe = events.subscribe((outcome) => this.#deliver(outcome));
  }

  /**
   * Call `waiter` once when rawId's outcome is known. Returns a cancel function.
   * @param rawId - the stored raw
   * @param waiter - sends the answer (must not throw)
   */
  expect(rawId: string, waiter: Waiter): () => void {
    const early = this.#early.get(rawId);
    if (early) {
      this.#early.delete(rawId);
      waiter(early);
      return () => undefined;
    }
    let set = this.#waiters.get(rawId);
    if (!set) {
      if (this.#waiters.size >= this.#max) this.#waiters.delete(this.#waiters.keys().next().value as string);
      set = new Set();
      this.#waiters.set(rawId, set);
    }
    set.add(waiter);
    return () => {
      const now = this.#waiters.get(rawId);
      if (!now?.delete(waiter)) return;
      if (now.size === 0) this.#waiters.delete(rawId);
    };
  }

  /** Number of raws still waited on. */
  get pending(): number {
    return this.#waiters.size;
  }

  close(): void {
    this.#unsubscribe();
    this.#waiters.clear();
    this.#early.clear();
  }

  #deliver(outcome: NormalizationOutcome): void {
    const waiters = this.#waiters.get(outcome.rawId);
    if (waiters) {
      this.#waiters.delete(outcome.rawId);
      for (const waiter of waiters) waiter(outcome);
      return;
    }
    if (this.#early.size >= this.#max) this.#early.delete(this.#early.keys().next().value as string);
    this.#early.set(outcome.rawId, outcome);
  }
}
