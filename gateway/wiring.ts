/**
 * What both composition roots build the same way: the main thread (main.ts) and the normalize
 * thread (normalize-main.ts). Like them, this file may import adapters/.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FeedNormalizing } from '../adapters/normalizers.js';
import type { Config } from './config/schema.js';
import { readSecret } from './config/secrets.js';
import type { Store } from './core/ports.js';
import type { Logger } from './log.js';
import type { AtRestCipher } from './store/at-rest.js';
import { LmdbStore } from './store/lmdb-store.js';
import { RedisStore } from './store/redis-store.js';

/** Opens the configured store. Each thread opens its own handle (LMDB shares one environment per process). */
export async function openStore(config: Config, cipher: AtRestCipher, log: Logger): Promise<Store> {
  const s = config.gateway.store;
  if (s.kind === 'lmdb') {
    return LmdbStore.open({ path: s.path, cipher, log });
  }
  return RedisStore.open({ url: redisUrl(config), prefix: s.prefix, cipher, durability: s.durability, log });
}

/** The Redis URL, read from its secret reference when it is one. */
export function redisUrl(config: Config): string {
  const s = config.gateway.store;
  if (s.kind !== 'redis') throw new TypeError('the store is not Redis');
  return s.url.startsWith('env:') || s.url.startsWith('file:') ? readSecret(s.url, config.dir) : s.url;
}

/** The feeds' normalizing settings as plain data (threads build their normalizers from it too). */
export function feedNormalizing(config: Config): FeedNormalizing[] {
  return config.feeds.map((f) => {
    const { domain: _domain, ...identity } = f.identity ?? {};
    return { name: f.name, format: f.format, ...(f.timeZone ? { timeZone: f.timeZone } : {}), ...(f.identity || f.timeZone ? { identity } : {}) };
  });
}

/** Shared identity domain per feed (feeds.yaml identity.domain). */
export function identityDomains(config: Config): Map<string, string> {
  return new Map(config.feeds.flatMap((f) => (f.identity?.domain ? [[f.name, f.identity.domain] as const] : [])));
}

/** A thread entry beside this file's build: .js in dist/, .ts when run from sources. */
function entry(relativePath: string): URL {
  return new URL(`${relativePath}${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
}

/** Runs the mappings only (NormalizePool). */
export const MAPPING_THREAD = entry('../adapters/normalize-thread');
/** Runs the whole normalize worker: claims, mappings, batch commits (NormalizeThread). */
export const NORMALIZE_THREAD = entry('./normalize-main');
