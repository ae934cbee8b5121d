import type { Server } from '@hapi/hapi';
import { buildNormalizers } from '../adapters/normalizers.js';
import { hl7HttpPlugin } from '../adapters/hl7v2/hl7-http.js';
import { fhirWritePlugin } from '../adapters/fhir/fhir-http.js';
import { R4Validator } from '../adapters/fhir/validate.js';
import { fhirMetadataPlugin } from '../adapters/fhir/capability.js';
import { MllpFeed } from '../adapters/hl7v2/mllp-feed.js';
import { readFileSync } from 'node:fs';
import type { Config } from './config/schema.js';
import { readSecret } from './config/secrets.js';
import type { NormalizationEvents, Store } from './core/ports.js';
import { loadSodium } from '../protocol/crypto/sodium.js';
import { listenError } from './http/listen-error.js';
import { fhirPlugin } from './http/plugins/fhir.js';
import { healthPlugin } from './http/plugins/health.js';
import { identityConflictsPlugin } from './http/plugins/identity-conflicts.js';
import { rawPlugin } from './http/plugins/raw.js';
import { createHttpServer, feature, registerFeatures } from './http/server.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { Intake, NORMALIZE_QUEUE } from './pipeline/intake.js';
import { BacklogGate } from './pipeline/backlog-gate.js';
import { NormalizationEventBus } from './pipeline/normalization-events.js';
import { RedisNotifications } from './pipeline/outcome-notifications.js';
import { NormalizeWorker } from './pipeline/normalize-worker.js';
import { NormalizeThread } from './pipeline/normalize-thread-host.js';
import type { NormalizeThreadData } from './normalize-main.js';
import { Router } from './router/router.js';
import { AtRestCipher } from './store/at-rest.js';
import { loadDataKey } from './store/data-key.js';
import { randomUUID } from 'node:crypto';
import { NORMALIZE_THREAD, feedNormalizing, identityDomains, openStore, redisUrl } from './wiring.js';
import { createMessaging, type Messaging } from './relay/messaging.js';
import { GATEWAY_VERSION } from './version.js';

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
  /** Bound address of each MLLP feed listener, by feed name. */
  readonly mllp: ReadonlyMap<string, { host: string; port: number }>;
  /** Key directory and relay, when gateway.yaml has a messaging section. */
  readonly messaging?: Messaging;
  stop(): Promise<void>;
}

/**
 * Composition root: config → store → pipeline → HTTP. The only place concrete classes are created.
 * Nothing listens until the store is open; readiness turns on once every listener is up.
 */
export async function startGateway(config: Config, log: Logger): Promise<Gateway> {
  const sodium = await loadSodium();
  const dataKey = loadDataKey(config, log);
  const cipher = new AtRestCipher(sodium, dataKey);
  const store = await openStore(config, cipher, log);
  const metrics = new Metrics(store, QUEUES);
  const normalizerMap = buildNormalizers(feedNormalizing(config));
  let worker: { notify(): void } | undefined;
  const { maxBacklog } = config.gateway.normalize;
  const gate = maxBacklog > 0
    ? new BacklogGate({ store, queue: NORMALIZE_QUEUE, maxBacklog, log: log.child({ component: 'intake' }), onChange: (paused) => metrics.intakePaused.set(paused ? 1 : 0) })
    : undefined;
  const intake = new Intake({
    store, log: log.child({ component: 'intake' }), metrics,
    normalizedFormats: normalizerMap.keys(), onQueued: () => worker?.notify(), ...(gate ? { gate } : {}),
  });
  let ready = false;
  let messaging: Messaging | undefined;
  try {
    // Before any listener: a changed identity key must stop the start (identity-check.ts).
    messaging = await createMessaging(config, store, log);
  } catch (err) {
    await store.close();
    throw err;
  }
  // Created before the HTTP features that wait on outcomes (FHIR writes); started after listen.
  const events = new NormalizationEventBus({ log: log.child({ component: 'normalize' }), ...outcomeTransport(config, log) });
  const fhirFeeds = config.feeds.filter((f) => f.format === 'fhir-r4');
  // The R4 definitions take about a second to index: once, at start, only when a FHIR feed exists.
  const validator = fhirFeeds.length > 0 ? R4Validator.load() : undefined;
  const http = await createHttpServer({ config, metrics, log: log.child({ component: 'http' }) });
  // Every HTTP feature, in one list.
  await registerFeatures(http, [
    feature(healthPlugin, { store, metrics, isReady: () => ready }),
    feature(rawPlugin, { config, store, intake }),
    feature(fhirPlugin, { store, baseUrl: '' }),
    feature(fhirMetadataPlugin, { writes: validator !== undefined, version: GATEWAY_VERSION, startedAt: new Date(), baseUrl: '' }),
    feature(identityConflictsPlugin, { store }),
    feature(hl7HttpPlugin, {
      feeds: config.feeds.filter((f) => f.format === 'hl7v2').map((f) => ({
        name: f.name, owner: f.owner, ...(f.maxBodyBytes === undefined ? {} : { maxBodyBytes: f.maxBodyBytes }),
        ...(f.duplicates?.msh7WindowSeconds ? { msh7WindowMs: f.duplicates.msh7WindowSeconds * 1000 } : {}),
        ...(f.mllp ? { ackMode: f.mllp.ackMode, ...(f.mllp.allowedMessageTypes ? { allowedMessageTypes: f.mllp.allowedMessageTypes } : {}), ...(f.mllp.encoding ? { encoding: f.mllp.encoding } : {}) } : {}),
      })),
      intake, originals: store, maxBodyBytes: config.gateway.limits.maxBodyBytes, log: log.child({ component: 'hl7-http' }),
    }),
    ...(validator ? [feature(fhirWritePlugin, {
      feeds: fhirFeeds.map((f) => ({
        name: f.name, owner: f.owner, ...(f.maxBodyBytes === undefined ? {} : { maxBodyBytes: f.maxBodyBytes }),
        ...(f.identity?.domain ? { identityDomain: f.identity.domain } : {}),
      })),
      intake, events, store, validator, baseUrl: '', log: log.child({ component: 'fhir' }),
      maxBodyBytes: config.gateway.limits.maxBodyBytes, ...config.gateway.fhir,
    })] : []),
    ...(messaging?.httpFeatures ?? []),
  ]);
  messaging?.attach(http.listener);
  try {
    await http.start();
  } catch (err) {
    await messaging?.close();
    await store.close();
    const { host, port } = config.gateway.http;
    throw listenError(err, { listener: 'HTTP API', host, port, configDir: config.dir, file: 'gateway', key: 'http.port' });
  }
  /** Closes what is open once the event bus is, when a later step of the start fails. */
  const undoStart = async (err: unknown): Promise<never> => {
    await events.close();
    await http.stop();
    await messaging?.close();
    await store.close();
    throw err;
  };
  await events.start().catch(undoStart);
  // One applier per queue (Store.claimBatch): messages are applied in arrival order (an A08 after
  // its A01), across batches and across gateway processes sharing one Redis.
  const { enabled, threads, batchSize, lingerMs } = config.gateway.normalize;
  const router = new Router(config.routes);
  const normalizeLog = log.child({ component: 'normalize' });
  // threads ≥ 1: the whole worker (claims, mappings, batch commits) in its own thread, with
  // threads − 1 more for the mappings alone; 0: on this event loop.
  const threadData = (): NormalizeThreadData => ({ config, dataKey, applier: `normalize-${randomUUID()}`, logLevel: log.level, mappingThreads: Math.max(0, threads - 1) });
  const normalize = threads > 0
    ? new NormalizeThread({ script: NORMALIZE_THREAD, workerData: threadData, events, metrics, log, beforePublish: () => store.readLatest() })
    : new NormalizeWorker({
      store, normalizers: normalizerMap, events, metrics, route: (h) => router.route(h), batchSize, lingerMs,
      identityDomains: identityDomains(config), log: normalizeLog,
    });
  if (enabled) {
    await Promise.resolve(normalize.start()).catch(undoStart);
    worker = normalize;
  } else {
    log.info({ component: 'normalize' }, 'normalize worker disabled');
  }
  const feeds = mllpFeeds(config, { intake, store, events, log: log.child({ component: 'mllp' }) });
  const mllp = new Map<string, { host: string; port: number }>();
  let opening: MllpFeed | undefined;
  try {
    for (const feed of feeds) {
      opening = feed;
      mllp.set(feed.name, await feed.listen());
    }
  } catch (err) {
    await Promise.all(feeds.map((f) => f.close(0)));
    await http.stop();
    await normalize.stop();
    await events.close();
    await messaging?.close();
    await store.close();
    throw opening ? mllpListenError(err, config, opening.name) : err;
  }
  // Started last: the failed-start paths above have no timer to stop.
  gate?.start();
  ready = true;
  const url = http.info.uri;
  await store.appendAudit({ action: 'gateway.start', actor: 'gateway', detail: { store: store.kind, feeds: config.feeds.length, participants: config.participants.length } });
  log.info({ url, store: store.kind }, 'gateway listening');
  let stopping: Promise<void> | undefined;
  return {
    http, store, url, normalized: events, mllp, ...(messaging ? { messaging } : {}),
    stop() {
      stopping ??= (async () => {
        ready = false;
        // Messages waiting on a full backlog are stored and acknowledged while the store is open.
        gate?.stop();
        await Promise.all(feeds.map((f) => f.close()));
        await messaging?.ws.close();
        await http.stop({ timeout: 10_000 });
        await normalize.stop();
        await events.close();
        await messaging?.close();
        await store.appendAudit({ action: 'gateway.stop', actor: 'gateway' });
        await store.close();
        log.info('gateway stopped');
      })();
      return stopping;
    },
  };
}

/** One MLLP listener per hl7v2 feed with an `mllp` block; files and secret references are read here. */
function mllpFeeds(config: Config, deps: { intake: Intake; store: Store; events: NormalizationEvents; log: Logger }): MllpFeed[] {
  return config.feeds.flatMap((f) => {
    const m = f.mllp;
    if (!m) return [];
    const owner = config.participants.find((p) => p.id === f.owner);
    if (!owner) return [];
    return [new MllpFeed({
      name: f.name, owner: { participant: owner.id, kind: owner.kind }, intake: deps.intake, log: deps.log,
      port: m.port, host: m.host, allowFrom: m.allowFrom, insecure: m.insecure, ackMode: m.ackMode,
      maxFrameBytes: m.maxFrameBytes, idleTimeoutMs: m.idleTimeoutMs, maxConnections: m.maxConnections,
      maxConnectionsPerSource: m.maxConnectionsPerSource, frameTimeoutMs: m.frameTimeoutMs,
      ...(f.duplicates?.msh7WindowSeconds ? { msh7WindowMs: f.duplicates.msh7WindowSeconds * 1000 } : {}),
      ...(m.allowedMessageTypes ? { allowedMessageTypes: m.allowedMessageTypes } : {}),
      ...(m.encoding ? { encoding: m.encoding } : {}),
      ...(m.tls ? { tls: {
        cert: readFileSync(m.tls.cert), key: readSecret(m.tls.key, config.dir), ...(m.tls.ca ? { ca: readFileSync(m.tls.ca) } : {}),
        requireClientCert: m.tls.requireClientCert, clientFingerprints: m.tls.clientFingerprints, clientSubjects: m.tls.clientSubjects,
      } } : {}),
      events: deps.events, originals: deps.store, self: { application: 'PASSERELLE', facility: config.gateway.name },
    })];
  });
}

/** A taken MLLP port named by feed and by its key in feeds.yaml (the feed's index there). */
function mllpListenError(err: unknown, config: Config, feed: string): unknown {
  const index = config.feeds.findIndex((f) => f.name === feed);
  const m = config.feeds[index]?.mllp;
  if (!m) return err;
  return listenError(err, { listener: `feed ${feed} (MLLP)`, host: m.host, port: m.port, configDir: config.dir, file: 'feeds', key: `feeds[${index}].mllp.port` });
}

/** Redis: outcomes cross processes over pub/sub on the store's server and prefix; LMDB: in-process. */
function outcomeTransport(config: Config, log: Logger): { remote?: RedisNotifications } {
  const s = config.gateway.store;
  if (s.kind !== 'redis') return {};
  return { remote: new RedisNotifications({ url: redisUrl(config), prefix: s.prefix, log: log.child({ component: 'events' }) }) };
}
