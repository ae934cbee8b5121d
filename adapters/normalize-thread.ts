/**
 * Entry point of a normalize thread (gateway/pipeline/normalize-pool.ts): builds the same
 * normalizers as the main thread from the feeds' settings (workerData), then answers each
 * `{ seq, raw }` with `{ seq, result }`. Normalizers are pure, so a thread holds no state; a
 * normalizer that throws is answered `{ seq, error }` with the error's name only (no content).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { RawMessage } from '../gateway/core/types.js';
import { buildNormalizers, type FeedNormalizing } from './normalizers.js';

const normalizers = buildNormalizers((workerData as { feeds: FeedNormalizing[] }).feeds);

parentPort?.on('message', (msg: { seq: number; raw: RawMessage }) => {
  const normalizer = normalizers.get(msg.raw.format);
  try {
    if (normalizer === undefined) throw new TypeError(`no normalizer for ${msg.raw.format}`);
    parentPort?.postMessage({ seq: msg.seq, result: normalizer.normalize(msg.raw) });
  } catch (err) {
    parentPort?.postMessage({ seq: msg.seq, error: err instanceof Error ? err.name : typeof err });
  }
});
