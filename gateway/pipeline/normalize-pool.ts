import { Worker } from 'node:worker_threads';
import type { Normalized } from '../core/ports.js';
import type { RawMessage } from '../core/types.js';
import { GatewayError } from '../../protocol/errors.js';
import type { Logger } from '../log.js';

/** A normalizer that runs elsewhere (NormalizePool); same contract as Normalizer.normalize. */
export interface AsyncNormalizer {
  normalize(raw: RawMessage): Promise<Normalized>;
}

interface Pending {
  resolve: (n: Normalized) => void;
  reject: (e: Error) => void;
}

/**
 * Normalizes in worker threads, so mapping (pure CPU) runs beside the event loop that takes
 * intake, commits and ACKs instead of on it. Each thread runs `script` (adapters/normalize-thread.ts),
 * which builds its normalizers from `workerData`. Requests go to the thread with the fewest in
 * flight. A normalizer that throws resolves like it does in-process (the worker turns it into an
 * `exception` issue); a thread that dies rejects what it held with a retryable error and is
 * replaced, so its items are retried.
 */
export class NormalizePool implements AsyncNormalizer {
  readonly #threads: Array<{ worker: Worker; pending: Map<number, Pending> }> = [];
  readonly #script: URL;
  readonly #workerData: unknown;
  readonly #log: Logger;
  #seq = 0;
  #closed = false;

  /**
   * @param options - `script`: the thread entry; `workerData`: what it builds its normalizers from;
   *   `size`: threads (≥ 1)
   */
  constructor(options: { script: URL; workerData: unknown; size: number; log: Logger }) {
    this.#script = options.script;
    this.#workerData = options.workerData;
    this.#log = options.log;
    for (let i = 0; i < options.size; i++) this.#threads.push(this.#spawn());
  }

  normalize(raw: RawMessage): Promise<Normalized> {
    if (this.#closed) return Promise.reject(new GatewayError('PSL_SHUTTING_DOWN', 'normalize pool is closed'));
    const thread = this.#threads.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const seq = ++this.#seq;
    return new Promise<Normalized>((resolve, reject) => {
      thread.pending.set(seq, { resolve, reject });
      thread.worker.postMessage({ seq, raw });
    });
  }

  /** Stops every thread; pending requests are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#threads.map((t) => t.worker.terminate()));
  }

  #spawn(): { worker: Worker; pending: Map<number, Pending> } {
    const worker = new Worker(this.#script, { workerData: this.#workerData });
    const thread = { worker, pending: new Map<number, Pending>() };
    worker.unref();
    worker.on('message', (msg: { seq: number; result?: Normalized; error?: string }) => {
      const p = thread.pending.get(msg.seq);
      if (p === undefined) return;
      thread.pending.delete(msg.seq);
      if (msg.result !== undefined) p.resolve(msg.result);
      else p.resolve({ ok: false, issues: [{ severity: 'fatal', code: 'exception', where: 'normalizer', message: `the normalizer failed unexpectedly (${msg.error ?? 'Error'}); the raw is kept for re-normalization` }] });
    });
    worker.on('error', (err) => this.#log.error({ err: { name: err.name } }, 'normalize thread failed'));
    worker.on('exit', (code) => {
      for (const p of thread.pending.values()) p.reject(new GatewayError('PSL_INTERNAL', `normalize thread exited (${code})`));
      thread.pending.clear();
      if (this.#closed) return;
      const i = this.#threads.indexOf(thread);
      if (i >= 0) this.#threads[i] = this.#spawn();
    });
    return thread;
  }
}
