/**
 * Normalization lag as a sender sees it in enhanced mode: from a message's commit ACK (CA, "safely
 * stored") to its application ACK (AA/AE, "normalized"), grouped by the bench step that sent it.
 */
export class AppAckTracker {
  readonly #waiting = new Map<string, { step: number; acceptedAt: number }>();
  readonly #lags = new Map<number, number[]>();
  readonly #pending = new Map<number, number>();
  readonly #codes = new Map<number, Map<string, number>>();

  /**
   * A commit ACK came in: the message's application ACK is now awaited.
   * @param controlId - the message's MSH-10 (MSA-2 of both its ACKs)
   * @param step - the step that sent it
   * @param at - arrival of the commit ACK, performance.now() ms
   */
  accepted(controlId: string, step: number, at: number): void {
    this.#waiting.set(controlId, { step, acceptedAt: at });
    this.#pending.set(step, (this.#pending.get(step) ?? 0) + 1);
  }

  /**
   * An application ACK came in (ACKs for messages never accepted here, e.g. a warm-up's, still count
   * when they were registered; others are ignored).
   * @param controlId - MSA-2
   * @param code - MSA-1 (AA, AE, AR)
   * @param at - arrival, performance.now() ms
   */
  normalized(controlId: string, code: string, at: number): void {
    const w = this.#waiting.get(controlId);
    if (!w) return;
    this.#waiting.delete(controlId);
    this.#pending.set(w.step, (this.#pending.get(w.step) ?? 1) - 1);
    let lags = this.#lags.get(w.step);
    if (!lags) this.#lags.set(w.step, lags = []);
    lags.push(at - w.acceptedAt);
    let codes = this.#codes.get(w.step);
    if (!codes) this.#codes.set(w.step, codes = new Map());
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }

  /** Messages of `step` still waiting for their application ACK. */
  pending(step: number): number {
    return this.#pending.get(step) ?? 0;
  }

  /** Every step's waiting messages. */
  get pendingTotal(): number {
    return this.#waiting.size;
  }

  /**
   * Lags of `step` in ms: measured ones, plus, for messages still waiting at `now`, the time
   * waited so far (a lower bound, so a step that fell behind cannot look fast).
   */
  lags(step: number, now: number): { lags: number[]; lowerBounds: number } {
    const lags = [...(this.#lags.get(step) ?? [])];
    let lowerBounds = 0;
    for (const w of this.#waiting.values()) {
      if (w.step !== step) continue;
      lags.push(now - w.acceptedAt);
      lowerBounds++;
    }
    return { lags, lowerBounds };
  }

  /** Application ACK codes received for `step` (AA: normalized; AE: normalized with errors). */
  codes(step: number): ReadonlyMap<string, number> {
    return this.#codes.get(step) ?? new Map();
  }
}
