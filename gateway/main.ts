import type { Server } from '@hapi/hapi';
import { hl7v2Normalizer } from '../adapters/hl7v2/normalize/index.js';
import type { Config } from './config/schema.js';
import { readSecret } from './config/secrets.js';
import type { NormalizationEvents, Normalizer, Store } from './core/ports.js';
import type { Format } from './core/types.js';
import { loadSodium } from './crypto/sodium.js';
import { createHttpServer } from './http/server.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { Intake } from './pipeline/intake.js';
import { NormalizationEventBus } from './pipeline/normalization-events.js';
import { NormalizeWorker } from './pipeline/normalize-worker.js';
import { AtRestCipher } from './store/at-rest.js';
import { loadDataKey } from './store/data-key.js';
import { LmdbStore } from './store/lmdb-store.js';
import { RedisStore } from './store/redis-store.js';
import { isAbsolute, join } from 'node:path';

/** Queues the gateway reports on /metrics. */
export const QUEUES = ['normalize'] as const;

/** A running gateway: what `stop()` needs to shut it down cleanly. */
export interface Gateway {
  readonly http: Server;
  readonly store: Store;
  /** Base URL of the HTTP listener, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  /** Outcome of each normalized raw (enhanced-mode ACKs, tests). */
  readonly normalized: NormalizationEvents;
  stop(): Promise<void>;
}

/**
 * Composition root: config → store → pipeline → HTTP. The only place concrete classes are created.
 * Nothing listens until the store is open; readiness turns on once every listener is up.
 */
export async function startGateway(config: Config, log: Logger): Promise<Gateway> {
  const sodium = await loadSodium();
  const cipher = new AtRestCipher(sodium, loadDataKey(config, log));
  const store = await openStore(config, cipher, log);
  const metrics = new Metrics(store, QUEUES);
  const intake = new Intake({ store, log: log.child({ component: 'intake' }), metrics });
  let ready = false;
  const http = await createHttpServer({ config, store, intake, metrics, log: log.child({ component: 'http' }), isReady: () => ready });
  try {
    await http.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  const events = new NormalizationEventBus({ log: log.child({ component: 'normalize' }) });
  const worker = new NormalizeWorker({ store, normalizers: normalizers(), events, metrics, concurrency: 2, log: log.child({ component: 'normalize' }) });
  worker.start();
  ready = true;
  const url = http.info.uri;
  await store.appendAudit({ action: 'gateway.start', actor: 'gateway', detail: { store: store.kind, feeds: config.feeds.length, participants: config.participants.length } });
  log.info({ url, store: store.kind }, 'gateway listening');
  let stopping: Promise<void> | undefined;
  return {
    http, store, url, normalized: events,
    stop() {
      stopping ??= (async () => {
        ready = false;
        await http.stop({ timeout: 10_000 });
        await worker.stop();
        await store.appendAudit({ action: 'gateway.stop', actor: 'gateway' });
        await store.close();
        log.info('gateway stopped');
      })();
      return stopping;
    },
  };
}

/** The normalizer per format (gateway/** may not import adapters/**; this file may). */
function normalizers(): Map<Format, Normalizer> {
  return new Map<Format, Normalizer>([['hl7v2', hl7v2Normalizer]]);
}

async function openStore(config: Config, cipher: AtRestCipher, log: Logger): Promise<Store> {
  const s = config.gateway.store;
  const storeLog = log; // each store names its own component
  if (s.kind === 'lmdb') {
    const path = isAbsolute(s.path) ? s.path : join(config.dir, s.path);
    return LmdbStore.open({ path, cipher, log: storeLog });
  }
  const url = s.url.startsWith('env:') || s.url.startsWith('file:') ? readSecret(s.url, config.dir) : s.url;
  return RedisStore.open({ url, prefix: s.prefix, cipher, durability: s.durability, log: storeLog });
}
