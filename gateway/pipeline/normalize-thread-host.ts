import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { GatewayError } from '../../protocol/errors.js';
import { relayLogLine, type Logger } from '../log.js';
import type { NormalizeMetrics, OutcomePublisher } from './normalize-worker.js';
import { applyReport, type FromNormalizeThread, type ToNormalizeThread } from './normalize-thread-port.js';

/** Options for {@link NormalizeThread}. */
export interface NormalizeThreadOptions {
  /** The thread entry (gateway/normalize-main.ts). */
  script: URL;
  /**
   * What the entry builds its store and worker from (NormalizeThreadData in normalize-main.ts),
   * made afresh for each thread started: a restarted thread needs a new applier name.
   */
  workerData: () => unknown;
  /** Where committed outcomes are published on this thread (the event bus the ACKs listen on). */
  events: OutcomePublisher;
  /**
   * Called before a report's outcomes are published: the thread committed them, and a listener
   * that reads the store next must see that commit (Store.readLatest).
   */
  beforePublish?: () => void;
  metrics?: NormalizeMetrics;
  /** The root logger: the thread's lines carry their own component. */
  log: Logger;
  /** Longest wait for the thread to finish its batch on stop() before it is terminated. Default 30 s. */
  stopTimeoutMs?: number;
}

/**
 * A batch allocates tens of MB of short-lived objects (records, JSON, sealed values); with V8's
 * default young generation most of them survive a scavenge or two and are copied. Measured: GC
 * was 12% of the saturated thread's time.
 */
const YOUNG_GENERATION_MB = 64;

/** Restart delays after a thread died: 1 s, doubling, at most 30 s. */
const RESTART_MS = { base: 1_000, max: 30_000 };

/**
 * The normalize worker in its own thread, so its batch commits (matching, sealing, index writes)
 * do not take the event loop that answers MLLP and HTTP. The thread opens its own store handle
 * (LMDB: the same environment; Redis: its own connection), runs one NormalizeWorker, and reports
 * outcomes and metrics back here after each commit; outcomes are published on this thread's bus,
 * where the application ACKs wait. Same surface as NormalizeWorker: start, notify, stop.
 *
 * A thread that dies is restarted under a new applier name, so, like a restarted process, it
 * takes the queue only once the dead thread's applier lease has lapsed; by then the items the dead
 * thread held are claimable again and come first, and arrival order holds.
 */
export class NormalizeThread {
  readonly #o: NormalizeThreadOptions;
  readonly #log: Logger;
  #worker: Worker | undefined;
  #notifyQueued = false;
  #stopping = false;
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;

  /** @param options - entry, its data, and where reports go */
  constructor(options: NormalizeThreadOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'normalize' });
  }

  /** Starts the thread; resolves once its store is open and its loop runs, rejects if it cannot start. */
  async start(): Promise<void> {
    const { worker, ready } = this.#spawn();
    try {
      await ready;
    } catch (err) {
      this.#stopping = true;
      await worker.terminate();
      throw err;
    }
  }

  /** Something was enqueued. Coalesced: enqueues that complete together send one message. */
  notify(): void {
    if (this.#notifyQueued || this.#worker === undefined) return;
    this.#notifyQueued = true;
    queueMicrotask(() => {
      this.#notifyQueued = false;
      this.#send({ kind: 'notify' });
    });
  }

  /** Lets the thread finish its batch and close its store, then resolves. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const worker = this.#worker;
    if (worker === undefined) return;
    const exited = once(worker, 'exit');
    this.#send({ kind: 'stop' });
    const timeout = setTimeout(() => {
      this.#log.warn({ code: 'PSL_TIMEOUT' }, 'normalize thread did not stop in time; terminated');
      void worker.terminate();
    }, this.#o.stopTimeoutMs ?? 30_000);
    await exited;
    clearTimeout(timeout);
  }

  #send(message: ToNormalizeThread): void {
    this.#worker?.postMessage(message);
  }

  #spawn(): { worker: Worker; ready: Promise<void> } {
    const worker = new Worker(this.#o.script, { workerData: this.#o.workerData(), resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    this.#worker = worker;
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: FromNormalizeThread) => {
        if (msg.kind === 'ready') resolve();
        else if (msg.kind === 'start-failed') reject(new GatewayError(isStoreCode(msg.code) ? msg.code : 'PSL_INTERNAL', 'the normalize thread could not open the store'));
        else this.#onMessage(msg);
      });
      worker.once('exit', (code) => reject(new GatewayError('PSL_INTERNAL', `the normalize thread exited (${code}) before it was ready`)));
    });
    // A restart's failure is handled by the exit below, not by a caller.
    ready.catch(() => undefined);
    worker.on('error', (err) => this.#log.error({ err: { name: err.name } }, 'normalize thread failed'));
    worker.on('exit', (code) => {
      if (this.#worker === worker) this.#worker = undefined;
      if (this.#stopping) return;
      const delay = Math.min(RESTART_MS.max, RESTART_MS.base * 2 ** this.#restarts++);
      this.#log.error({ code: 'PSL_INTERNAL', exitCode: code, restartInMs: delay }, 'normalize thread exited; restarting it');
      this.#restartTimer = setTimeout(() => {
        if (this.#stopping) return;
        void this.#spawn().ready.then(() => { this.#restarts = 0; }, () => undefined);
      }, delay);
      this.#restartTimer.unref();
    });
    return { worker, ready };
  }

  #onMessage(msg: FromNormalizeThread): void {
    if (msg.kind === 'report') {
      if (msg.outcomes.length > 0) this.#o.beforePublish?.();
      applyReport(msg, this.#o);
    }
    else if (msg.kind === 'log') relayLogLine(this.#o.log, msg.line);
  }
}

function isStoreCode(code: string): code is 'PSL_STORE_UNAVAILABLE' | 'PSL_STORE_CORRUPT' {
  return code === 'PSL_STORE_UNAVAILABLE' || code === 'PSL_STORE_CORRUPT';
}
