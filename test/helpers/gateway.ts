import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../gateway/config/load.js';
import { formatProblem } from '../../gateway/config/problems.js';
import type { Config } from '../../gateway/config/schema.js';
import { createLogger } from '../../gateway/log.js';
import { startGateway, type Gateway } from '../../gateway/main.js';
import { cleanPrefix, REDIS_URL, testPrefix } from './redis.js';

/** Participants every test config declares, with their kind. */
export const TEST_PARTICIPANTS = {
  'chu-lyon': 'hospital', 'labo-bioplus': 'lab', 'kine-martin': 'professional', 'mutuelle-x': 'insurer', ops: 'admin',
} as const;
export type TestParticipant = keyof typeof TEST_PARTICIPANTS;

export interface TestConfig {
  dir: string;
  /** Bearer token per participant (only the hashes are in the config). */
  tokens: Record<TestParticipant, string>;
  redisPrefix?: string;
  cleanup(): Promise<void>;
}

/**
 * Writes a complete config directory in a temp dir: HTTP on 127.0.0.1 port 0, a data key file,
 * and the store of choice (LMDB in the temp dir, or Redis under a fresh key prefix).
 */
export function writeTestConfig(options: { store: 'lmdb' | 'redis'; logLevel?: string; extraFeeds?: string } = { store: 'lmdb' }): TestConfig {
  const dir = mkdtempSync(join(tmpdir(), 'passerelle-gw-'));
  const tokens = Object.fromEntries(Object.keys(TEST_PARTICIPANTS).map((id) => [id, `psl_${randomBytes(32).toString('base64url')}`])) as Record<TestParticipant, string>;
  const redisPrefix = options.store === 'redis' ? testPrefix('gw') : undefined;
  writeFileSync(join(dir, 'data.key'), randomBytes(32).toString('hex'), { mode: 0o600 });
  const store = options.store === 'lmdb'
    ? 'store:\n  kind: lmdb\n  path: data/lmdb\n'
    : `store:\n  kind: redis\n  url: ${REDIS_URL}\n  prefix: "${redisPrefix}"\n  durability: none\n`;
  writeFileSync(join(dir, 'gateway.yaml'), `name: test\nhttp:\n  host: 127.0.0.1\n  port: 0\n${store}dataKey:\n  ref: file:data.key\nlog:\n  level: ${options.logLevel ?? 'info'}\n`);
  writeFileSync(join(dir, 'participants.yaml'), `participants:\n${Object.entries(TEST_PARTICIPANTS).map(([id, kind]) =>
    `  - id: ${id}\n    kind: ${kind}\n    name: ${id}\n    tokens:\n      - sha256: ${createHash('sha256').update(tokens[id as TestParticipant]).digest('hex')}\n`).join('')}`);
  writeFileSync(join(dir, 'feeds.yaml'), `feeds:\n  - name: chu-adt\n    owner: chu-lyon\n    format: hl7v2\n  - name: lab-oru\n    owner: labo-bioplus\n    format: hl7v2\n${options.extraFeeds ?? ''}`);
  writeFileSync(join(dir, 'routes.yaml'), 'routes:\n  - name: lab-to-chu\n    when:\n      feed: [lab-oru]\n    to: [chu-lyon]\n');
  return {
    dir, tokens, ...(redisPrefix ? { redisPrefix } : {}),
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
      if (redisPrefix) await cleanPrefix(redisPrefix);
    },
  };
}

/**
 * Turns messaging on in a test config: participants.yaml gets the given identity keys (base64url)
 * and gateway.yaml a messaging section with dev keys generated into the config dir.
 * @param identityKeys - per participant; participants without one get none
 * @param extra - appended to the messaging section (limits, policy)
 */
export function enableMessaging(cfg: TestConfig, identityKeys: Partial<Record<TestParticipant, string>>, extra: string): void {
  writeFileSync(join(cfg.dir, 'participants.yaml'), `participants:\n${Object.entries(TEST_PARTICIPANTS).map(([id, kind]) => {
    const key = identityKeys[id as TestParticipant];
    return `  - id: ${id}\n    kind: ${kind}\n    name: ${id}\n${key ? `    identityKey: ${key}\n` : ''}    tokens:\n      - sha256: ${createHash('sha256').update(cfg.tokens[id as TestParticipant]).digest('hex')}\n`;
  }).join('')}`);
  const gw = join(cfg.dir, 'gateway.yaml');
  writeFileSync(gw, `${readFileSync(gw, 'utf8')}messaging:\n  directoryKey: { ref: file:keys/directory.key, generateIfMissing: true }\n  serviceKey: { ref: file:keys/service.key, generateIfMissing: true }\n  blobDir: data/blobs\n${extra}`);
}

/** Loads a test config, failing loudly with every problem. */
export function mustLoad(dir: string): Config {
  const result = loadConfig(dir);
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.config;
}

/** Every log line the gateway wrote, as text, kept in memory. */
export class LogSink extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
}

export interface RunningTestGateway extends TestConfig {
  gateway: Gateway;
  logs: LogSink;
  /** fetch against the gateway with a participant's bearer token. */
  as(participant: TestParticipant | undefined, path: string, init?: RequestInit): Promise<Response>;
}

/** A gateway in this process on a fresh config; stop it with `cleanup()`. */
export async function startTestGateway(options: { store: 'lmdb' | 'redis'; logLevel?: string; extraFeeds?: string } = { store: 'lmdb' }): Promise<RunningTestGateway> {
  const cfg = writeTestConfig(options);
  const logs = new LogSink();
  const config = mustLoad(cfg.dir);
  const gateway = await startGateway(config, createLogger({ level: options.logLevel ?? 'info', destination: logs }));
  return {
    ...cfg, gateway, logs,
    as(participant, path, init = {}) {
      const headers = new Headers(init.headers);
      if (participant) headers.set('authorization', `Bearer ${cfg.tokens[participant]}`);
      return fetch(`${gateway.url}${path}`, { ...init, headers });
    },
    async cleanup() {
      await gateway.stop();
      await cfg.cleanup();
    },
  };
}
