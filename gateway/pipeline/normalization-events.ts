import type { NormalizationEvents, NormalizationOutcome } from '../core/ports.js';
import type { Logger } from '../log.js';

type Listener = (outcome: NormalizationOutcome) => void;

/**
 * In-process fan-out of normalization outcomes (enhanced-mode MLLP ACKs, tests). Synchronous and
 * best effort: a listener that throws is logged and skipped, never allowed to stop the worker or
 * the other listeners. Outcomes are not buffered: a subscriber sees only what happens after it
 * subscribed (the durable answer is the OperationOutcome record, see record-writer.ts).
 */
export class NormalizationEventBus implements NormalizationEvents {
  readonly #listeners = new Set<Listener>();
  readonly #log: Logger | undefined;

  /** @param options - log: where listener failures are reported (code only) */
  constructor(options: { log?: Logger } = {}) {
    this.#log = options.log;
  }

  subscribe(listener: Listener): () => void {
    // Wrapped so the same function can subscribe twice and unsubscribe each independently.
    const entry: Listener = (o) => listener(o);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Delivers one outcome to every current listener. */
  publish(outcome: NormalizationOutcome): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(outcome);
      } catch (err) {
        this.#log?.error({ err, rawId: outcome.rawId }, 'normalization listener failed');
      }
    }
  }

  /** Resolves with the first outcome for rawId published from now on. */
  waitFor(rawId: string, signal?: AbortSignal): Promise<NormalizationOutcome> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        off();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const off = this.subscribe((o) => {
        if (o.rawId !== rawId) return;
        off();
        signal?.removeEventListener('abort', onAbort);
        resolve(o);
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
