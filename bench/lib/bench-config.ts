/**
 * A throwaway config directory made from the example config (config/*.yaml), changed only where a
 * bench must: its own ports, store and keys in a temp dir, warn-level logs, an admin token for
 * /metrics, and one extra MLLP feed for the load generator. Everything else (participants, routes,
 * messaging, feeds) stays as users run it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMap, isSeq, parseDocument, type Document } from 'yaml';

/** What the bench needs to know about the config it wrote. */
export interface BenchConfig {
  /** The config directory (`--config`); the data directory is inside it. */
  readonly dir: string;
  readonly httpPort: number;
  readonly mllpPort: number;
  /** The LMDB environment directory (its data.mdb is the store's size on disk). */
  readonly lmdbPath: string;
  /** Bearer token of the example admin participant, for /metrics. */
  readonly adminToken: string;
  /** Bearer token of the example lab participant (owner of the example FHIR feed). */
  readonly labToken: string;
}

/** Options for {@link writeBenchConfig}. */
export interface BenchConfigOptions {
  /** The example config directory to start from. */
  source: string;
  /** Name of the extra MLLP feed; its owner is the example config's first hospital. */
  feed: string;
  /** Connections the load generator opens (all from 127.0.0.1). */
  connections: number;
  /** gateway.yaml `normalize.enabled`: false measures intake alone. */
  normalize: boolean;
}

/** A port that was free a moment ago (the gateway binds it soon after; good enough for a bench). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Copies the example config into a fresh temp directory with the bench's changes.
 * @param options - source config, the bench feed's name, connection count and normalize switch
 */
export async function writeBenchConfig(options: BenchConfigOptions): Promise<BenchConfig> {
  const dir = mkdtempSync(join(tmpdir(), 'passerelle-bench-pipeline-'));
  const data = join(dir, 'data');
  mkdirSync(data, { mode: 0o700 });
  const read = (file: string): Document => parseDocument(readFileSync(join(options.source, file), 'utf8'));
  const httpPort = await freePort();
  const mllpPort = await freePort();
  const adminToken = randomBytes(32).toString('base64url');
  const labToken = randomBytes(32).toString('base64url');

  const gateway = read('gateway.yaml');
  gateway.setIn(['http', 'port'], httpPort);
  gateway.setIn(['store'], { kind: 'lmdb', path: 'data/lmdb' });
  // A key of our own instead of generateIfMissing: no first-start warning, nothing outside the temp dir.
  writeFileSync(join(data, 'data.key'), randomBytes(32).toString('hex'), { mode: 0o600 });
  gateway.setIn(['dataKey'], { ref: 'file:data/data.key' });
  gateway.setIn(['log', 'level'], 'warn');
  // PIPELINE_NORMALIZE_THREADS / _BATCH / _LINGER_MS: try another normalize.threads, batchSize or lingerMs than the default.
  const threads = process.env.PIPELINE_NORMALIZE_THREADS;
  const batch = process.env.PIPELINE_NORMALIZE_BATCH;
  const linger = process.env.PIPELINE_NORMALIZE_LINGER_MS;
  gateway.setIn(['normalize'], {
    enabled: options.normalize,
    // Intake alone is measured without the backpressure that a worker-less queue would trip.
    ...(options.normalize ? {} : { maxBacklog: 0 }),
    ...(threads === undefined ? {} : { threads: Number(threads) }),
    ...(batch === undefined ? {} : { batchSize: Number(batch) }),
    ...(linger === undefined ? {} : { lingerMs: Number(linger) }),
  });
  if (gateway.hasIn(['messaging'])) {
    gateway.setIn(['messaging', 'directoryKey', 'ref'], 'file:data/directory.key');
    gateway.setIn(['messaging', 'serviceKey', 'ref'], 'file:data/service.key');
    gateway.setIn(['messaging', 'blobDir'], 'data/blobs');
  }

  const participants = read('participants.yaml');
  const list = participants.getIn(['participants']);
  if (!isSeq(list)) throw new Error('participants.yaml: participants is not a list');
  const entries = list.items.filter(isMap);
  const admin = entries.find((p) => p.get('kind') === 'admin');
  const hospital = entries.find((p) => p.get('kind') === 'hospital');
  if (!admin || !hospital) throw new Error('participants.yaml needs an admin and a hospital participant');
  admin.set('tokens', [{ sha256: createHash('sha256').update(adminToken).digest('hex'), label: 'bench' }]);
  entries.find((p) => p.get('kind') === 'lab')?.set('tokens', [{ sha256: createHash('sha256').update(labToken).digest('hex'), label: 'bench' }]);

  const feeds = read('feeds.yaml');
  const feedList = feeds.getIn(['feeds']);
  if (!isSeq(feedList)) throw new Error('feeds.yaml: feeds is not a list');
  // The example feeds keep their listeners, on free ports so the bench never collides with a running gateway.
  for (const feed of feedList.items.filter(isMap)) {
    if (feed.hasIn(['mllp', 'port'])) feed.setIn(['mllp', 'port'], await freePort());
  }
  feedList.add(feeds.createNode({
    name: options.feed, owner: String(hospital.get('id')), format: 'hl7v2',
    mllp: {
      port: mllpPort, allowFrom: ['127.0.0.1'], ackMode: 'auto',
      maxConnections: options.connections, maxConnectionsPerSource: options.connections,
    },
  }));

  writeFileSync(join(dir, 'gateway.yaml'), gateway.toString());
  writeFileSync(join(dir, 'participants.yaml'), participants.toString());
  writeFileSync(join(dir, 'feeds.yaml'), feeds.toString());
  writeFileSync(join(dir, 'routes.yaml'), readFileSync(join(options.source, 'routes.yaml')));
  return { dir, httpPort, mllpPort, lmdbPath: join(dir, 'data', 'lmdb'), adminToken, labToken };
}
