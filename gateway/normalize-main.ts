/**
 * Composition root of the normalize thread (pipeline/normalize-thread-host.ts): opens its own
 * store handle, builds the normalizers and the router from the same config as the main thread,
 * and runs one NormalizeWorker. Outcomes, metrics and log lines go to the main thread.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { buildNormalizers } from '../adapters/normalizers.js';
import type { Config } from './config/schema.js';
import { isGatewayError } from '../protocol/errors.js';
import type { Store } from './core/ports.js';
import { loadSodium } from '../protocol/crypto/sodium.js';
import { createLogger } from './log.js';
import { NormalizePool } from './pipeline/normalize-pool.js';
import { ThreadReporter, type FromNormalizeThread, type ToNormalizeThread } from './pipeline/normalize-thread-port.js';
import { NormalizeWorker } from './pipeline/normalize-worker.js';
import { Router } from './router/router.js';
import { AtRestCipher } from './store/at-rest.js';
import { MAPPING_THREAD, feedNormalizing, identityDomains, openStore } from './wiring.js';

/** What the main thread hands over (structured clone: config is plain data, the key a copy). */
export interface NormalizeThreadData {
  config: Config;
  dataKey: Uint8Array;
  /** This thread's applier name (NormalizeWorkerOptions.applier); a restarted thread gets a new one. */
  applier: string;
  logLevel: string;
  /** Extra threads for the mappings alone (normalize.threads − 1). */
  mappingThreads: number;
}

const port: MessagePort = parentPort ?? notInThread();
const post = (msg: FromNormalizeThread): void => port.postMessage(msg);
const data = workerData as NormalizeThreadData;
const { config } = data;
const log = createLogger({ level: data.logLevel, destination: { write: (line: string) => post({ kind: 'log', line }) } }).child({ component: 'normalize' });

let store: Store;
try {
  const cipher = new AtRestCipher(await loadSodium(), data.dataKey);
  store = await openStore(config, cipher, log);
} catch (err) {
  post({ kind: 'start-failed', code: isGatewayError(err) ? err.code : 'PSL_INTERNAL' });
  process.exit(1);
}

const reporter = new ThreadReporter((report) => post(report));
const router = new Router(config.routes);
const pool = data.mappingThreads > 0
  ? new NormalizePool({ script: MAPPING_THREAD, workerData: { feeds: feedNormalizing(config) }, size: data.mappingThreads, log })
  : undefined;
const worker = new NormalizeWorker({
  store, normalizers: buildNormalizers(feedNormalizing(config)), events: reporter, metrics: reporter, applier: data.applier,
  route: (h) => router.route(h), batchSize: config.gateway.normalize.batchSize, lingerMs: config.gateway.normalize.lingerMs,
  identityDomains: identityDomains(config), log, ...(pool ? { pool } : {}),
});

port.on('message', (msg: ToNormalizeThread) => {
  if (msg.kind === 'notify') worker.notify();
  else void stop();
});

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= (async () => {
    await worker.stop();
    await pool?.close();
    reporter.flush();
    await store.close();
    post({ kind: 'stopped' });
    port.close();
  })();
  return stopping;
}

worker.start();
post({ kind: 'ready' });

function notInThread(): never {
  throw new Error('normalize-main.ts runs as a worker thread (NormalizeThread)');
}
