import type { IntakePort, IntakeRequest, PutRawResult, Store } from '../core/ports.js';
import type { Format, RawMessage } from '../core/types.js';
import { newId, sha256Hex } from '../core/ids.js';
import { GatewayError, isGatewayError } from '../../protocol/errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { BacklogGate } from './backlog-gate.js';

/** The queue normalization reads; items are `{ id: rawId, payload: { rawId } }`. */
export const NORMALIZE_QUEUE = 'normalize';

/**
 * Intake: the only path from a feed into the store. Resolves once the raw is durable (or known to be a
 * duplicate) AND queued for normalization; only then may an adapter acknowledge. Store failures
 * surface as retryable GatewayErrors.
 *
 * The raw and its normalize queue item are written by one putRaw call (one commit on LMDB). Where a
 * store cannot make them atomic (Redis: two scripts), a crash between them leaves a stored raw that was
 * never acknowledged; the sender retransmits, the retry is a duplicate, and the duplicate path enqueues
 * the original id again (a no-op while the item waits; a finished raw is not re-run by the worker).
 * So no acknowledged raw can miss normalization.
 */
export class Intake implements IntakePort {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #normalized: ReadonlySet<Format>;
  readonly #onQueued: () => void;
  readonly #gate: Pick<BacklogGate, 'wait'> | undefined;

  /**
   * @param options.normalizedFormats - formats that have a normalizer; other raws are stored only
   * @param options.onQueued - called after each enqueue (wakes the normalize worker)
   * @param options.gate - while the normalize backlog is full, messages wait here before they are stored
   */
  constructor(options: { store: Store; log: Logger; metrics: Metrics; normalizedFormats?: Iterable<Format>; onQueued?: () => void; gate?: Pick<BacklogGate, 'wait'> }) {
    this.#store = options.store;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#normalized = new Set(options.normalizedFormats ?? []);
    this.#onQueued = options.onQueued ?? (() => undefined);
    this.#gate = options.gate;
  }

  async accept(req: IntakeRequest): Promise<PutRawResult & { sha256: string }> {
    if (req.body.length === 0) throw new GatewayError('PSL_PAYLOAD_EMPTY');
    if (this.#normalized.has(req.format)) await this.#gate?.wait();
    const raw: RawMessage = {
      id: newId('raw'),
      feed: req.feed,
      participant: req.participant,
      format: req.format,
      receivedAt: new Date(),
      body: req.body,
      sha256: sha256Hex(req.body),
      ...(req.sourceRef === undefined ? {} : { sourceRef: req.sourceRef }),
      ...(req.contentType === undefined ? {} : { contentType: req.contentType }),
      ...(req.charset === undefined ? {} : { charset: req.charset }),
      ...(req.request === undefined ? {} : { request: req.request }),
    };
    let result: PutRawResult;
    try {
      const normalize = this.#normalized.has(req.format);
      const options = {
        ...(normalize ? { enqueue: NORMALIZE_QUEUE } : {}), ...(req.similar ? { similar: req.similar } : {}),
        // The same bytes sent with another request (another URL, another condition) are another message.
        ...(req.request === undefined ? {} : { dedupeHash: sha256Hex(Buffer.concat([Buffer.from(`${req.request}\n`, 'utf8'), req.body])) }),
      };
      result = await this.#metrics.timeStore('putRaw', () => this.#store.putRaw(raw, options));
      if (normalize) this.#onQueued();
    } catch (err) {
      this.#metrics.rawRejected.inc({ feed: req.feed, code: 'PSL_STORE_UNAVAILABLE' });
      this.#log.error({ err, feed: req.feed, sha256: raw.sha256 }, 'raw not stored');
      throw isGatewayError(err) && err.retryable ? err : new GatewayError('PSL_STORE_UNAVAILABLE', undefined, { cause: err });
    }
    this.#metrics.rawStored.inc({ feed: req.feed, format: req.format, outcome: result.status });
    if (result.controlIdReused) this.#metrics.controlIdReused.inc({ feed: req.feed });
    this.#log.debug({ rawId: result.rawId, feed: req.feed, bytes: req.body.length, sha256: raw.sha256, outcome: result.status }, 'raw stored');
    return { ...result, sha256: raw.sha256 };
  }
}
