import { randomUUID } from 'node:crypto';
import type { NormalizationOutcome } from '../core/ports.js';
import type { Issue } from '../core/issues.js';
import type { Logger } from '../log.js';
import { createConn, type RedisConn } from '../store/redis-conn.js';

/**
 * How normalization outcomes travel between gateway processes. In-process (LMDB: one process owns
 * the environment) it is nothing at all; on Redis, N processes share the queue, so the one that
 * normalizes a raw is often not the one holding the MLLP connection that waits for its application
 * ACK. Best effort, like the bus: an outcome missed while a subscriber is reconnecting is still in
 * the OperationOutcome record.
 */
export interface OutcomeNotifications {
  /** Sends an outcome to the other processes (this process's listeners are served by the bus). */
  publish(outcome: NormalizationOutcome): void;
  /** Calls `deliver` with every outcome another process publishes. */
  start(deliver: (outcome: NormalizationOutcome) => void): Promise<void>;
  close(): Promise<void>;
}

/** LMDB: a single process, so there is nobody else to tell. */
export class InProcessNotifications implements OutcomeNotifications {
  publish(): void {}
  async start(): Promise<void> {}
  async close(): Promise<void> {}
}

/** What goes on the wire: ids, issue codes and locations. Issue messages stay local (see fromWire). */
interface WireOutcome {
  o: string;
  r: string;
  ok: boolean;
  i: Array<{ s: Issue['severity']; c: Issue['code']; w?: string }>;
  ids: string[];
}

/** Options for {@link RedisNotifications}. */
export interface RedisNotificationsOptions {
  /** `redis://host:port/db`, as the store's. */
  url: string;
  /** The store's key prefix; the channel is `<prefix>events:normalized`. */
  prefix: string;
  log: Logger;
}

/**
 * Redis pub/sub. Subscribing puts a node-redis connection in subscriber mode, so it gets one of
 * its own; publishing goes over a second one. Each process tags what it sends with a random origin
 * and ignores its own messages, since its listeners already had the full outcome in-process.
 */
export class RedisNotifications implements OutcomeNotifications {
  readonly channel: string;
  readonly #origin = randomUUID();
  readonly #pub: RedisConn;
  readonly #sub: RedisConn;
  readonly #log: Logger;

  /** @param options - url, prefix, log */
  constructor(options: RedisNotificationsOptions) {
    this.channel = `${options.prefix}events:normalized`;
    this.#pub = createConn(options.url);
    this.#sub = this.#pub.duplicate();
    this.#log = options.log;
    for (const c of [this.#pub, this.#sub]) c.on('error', (err: unknown) => this.#log.warn({ err }, 'event connection error'));
  }

  /** Connects both connections and resolves once the subscription is confirmed. */
  async start(deliver: (outcome: NormalizationOutcome) => void): Promise<void> {
    await Promise.all([this.#pub.connect(), this.#sub.connect()]);
    await this.#sub.subscribe(this.channel, (message: string) => {
      const outcome = this.#fromWire(message);
      if (outcome) deliver(outcome);
    });
  }

  publish(outcome: NormalizationOutcome): void {
    const wire: WireOutcome = {
      o: this.#origin, r: outcome.rawId, ok: outcome.ok, ids: outcome.recordIds,
      i: outcome.issues.map((x) => ({ s: x.severity, c: x.code, ...(x.where === undefined ? {} : { w: x.where }) })),
    };
    this.#pub.publish(this.channel, JSON.stringify(wire)).catch((err: unknown) => {
      this.#log.warn({ err, rawId: outcome.rawId }, 'normalization outcome not published');
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.#sub, this.#pub].map(async (c) => {
      if (c.isOpen) await c.close();
    }));
  }

  #fromWire(message: string): NormalizationOutcome | undefined {
    let w: WireOutcome;
    try {
      w = JSON.parse(message) as WireOutcome;
    } catch {
      this.#log.warn({ channel: this.channel }, 'unreadable normalization event ignored');
      return undefined;
    }
    if (w.o === this.#origin || typeof w.r !== 'string' || !Array.isArray(w.i) || !Array.isArray(w.ids)) return undefined;
    return {
      rawId: w.r, ok: w.ok === true, recordIds: w.ids,
      // The sender's message text is not sent; the code and location say the same without risk of content.
      issues: w.i.map((x) => ({ severity: x.s, code: x.c, ...(x.w === undefined ? {} : { where: x.w }), message: remoteMessage(x.c, x.w) })),
    };
  }
}

function remoteMessage(code: string, where: string | undefined): string {
  return where === undefined ? `normalization issue: ${code}` : `normalization issue at ${where}: ${code}`;
}
