import type { Store } from '../core/ports.js';
import type { Logger } from '../log.js';

/** Options for {@link BacklogGate}. */
export interface BacklogGateOptions {
  store: Pick<Store, 'queueStats'>;
  queue: string;
  /** Intake waits while the queue holds this many items or more (waiting, not in flight). */
  maxBacklog: number;
  log: Logger;
  /** How often the queue depth is read. Default 250 ms. */
  pollMs?: number;
  /** Told when intake pauses (true) and resumes (false): the /metrics gauge. */
  onChange?: (paused: boolean) => void;
}

/**
 * Backpressure from normalization to intake. When the normalize queue reaches `maxBacklog`, new
 * messages wait before they are stored, so an MLLP sender sees its commit ACKs slow down to the
 * rate normalization keeps, instead of application ACKs arriving later and later while the queue
 * grows without bound. It resumes below 90% of the limit (so it does not flap on every item).
 * Nothing is refused or lost: a waiting message is stored and acknowledged once there is room.
 * The depth is the store's, so with several processes on one Redis the limit is for all of them.
 */
export class BacklogGate {
  readonly #o: BacklogGateOptions;
  readonly #resumeAt: number;
  #paused = false;
  #waiters: Array<() => void> = [];
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  /** @param options - store, queue, limit (see BacklogGateOptions) */
  constructor(options: BacklogGateOptions) {
    if (!Number.isInteger(options.maxBacklog) || options.maxBacklog < 1) throw new TypeError('maxBacklog must be a positive integer');
    this.#o = options;
    this.#resumeAt = Math.floor(options.maxBacklog * 0.9);
  }

  /** Starts reading the queue depth. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.#poll(), this.#o.pollMs ?? 250);
    this.#timer.unref();
    void this.#poll();
  }

  /** Stops polling and lets every waiting message through (shutdown decides what happens to them). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#open();
  }

  /** Resolves at once while there is room, else once the backlog is back under the limit. */
  wait(): Promise<void> {
    if (!this.#paused) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const { depth } = await this.#o.store.queueStats(this.#o.queue);
      if (!this.#paused && depth >= this.#o.maxBacklog) {
        this.#paused = true;
        this.#o.log.warn({ queue: this.#o.queue, depth, maxBacklog: this.#o.maxBacklog, code: 'PSL_BACKLOG_FULL' }, 'intake paused: normalize backlog full');
        this.#o.onChange?.(true);
      } else if (this.#paused && depth <= this.#resumeAt) {
        this.#o.log.info({ queue: this.#o.queue, depth }, 'intake resumed');
        this.#open();
      }
    } catch (err) {
      // A store that cannot answer cannot take the message either; intake reports that itself.
      this.#o.log.warn({ err, queue: this.#o.queue }, 'backlog check failed');
    } finally {
      this.#polling = false;
    }
  }

  #open(): void {
    const wasPaused = this.#paused;
    this.#paused = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
    if (wasPaused) this.#o.onChange?.(false);
  }
}
