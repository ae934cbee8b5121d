import type { RelayStore } from '../../gateway/core/relay-store.js';
import type { AtRestCipher } from '../../gateway/store/at-rest.js';
import { LmdbStore } from '../../gateway/store/lmdb-store.js';
import { RedisStore } from '../../gateway/store/redis-store.js';
import { REDIS_URL } from './redis.js';

/** A relay store as the gateway opens it (Store.openRelayStore), with the Store it lives in. */
export interface OpenedRelay {
  relay: RelayStore;
  store: LmdbStore | RedisStore;
  /** Closes the relay store, then its Store. */
  close(): Promise<void>;
}

async function opened(store: LmdbStore | RedisStore): Promise<OpenedRelay> {
  const relay = await store.openRelayStore().catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  return { relay, store, close: async () => { await relay.close(); await store.close(); } };
}

/** The relay tables of an LmdbStore at `path`. */
export async function openLmdbRelay(path: string, cipher: AtRestCipher): Promise<OpenedRelay> {
  return opened(await LmdbStore.open({ path, cipher }));
}

/** The relay keys of a RedisStore on `prefix` (the test cleans the prefix). */
export async function openRedisRelay(prefix: string, cipher: AtRestCipher): Promise<OpenedRelay> {
  return opened(await RedisStore.open({ url: REDIS_URL, prefix, cipher, durability: 'none' }));
}
