import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { createClient, RESP_TYPES } from 'redis';
import { loadSodium } from '../../../../gateway/crypto/sodium.js';
import { LmdbRelayStore } from '../../../../gateway/relay/lmdb-relay-store.js';
import { RedisRelayStore } from '../../../../gateway/relay/redis-relay-store.js';
import type { RelayStore } from '../../../../gateway/relay/relay-store.js';
import { AtRestCipher } from '../../../../gateway/store/at-rest.js';
import { cleanPrefix, REDIS_URL, testPrefix } from '../../../helpers/redis.js';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (u: Uint8Array | undefined): string | undefined => (u === undefined ? undefined : new TextDecoder().decode(u));
const sodium = await loadSodium();
const cipher = new AtRestCipher(sodium, sodium.randombytes_buf(32));
const otherCipher = new AtRestCipher(sodium, sodium.randombytes_buf(32));
/** What the relay writes: participant and device ids in keys, routing metadata in values. */
const SECRETS = ['kine-martin', 'mutuelle-x', 'ingest-a', 'META-SIZE-4242'];
const write = async (store: RelayStore): Promise<void> => {
  const until = Date.now() + 60_000;
  await store.putAllIfAbsent({ key: 'rcpt:kine-martin:ID1', value: b('{"sender":"kine-martin"}'), expiresAt: until },
    [{ key: 'env:kine-martin:ID1', value: b('{"to":[{"participant":"mutuelle-x","device":"ingest-a"}],"size":"META-SIZE-4242"}'), expiresAt: until }]);
  await store.listAppend('dlv:kine-martin:ID1', b('{"participant":"mutuelle-x","device":"ingest-a"}'), until);
  await store.logAppend('directory', 0, b('{"participant":"kine-martin"}'));
};
const inClear = (bytes: Buffer): string[] => SECRETS.filter((x) => bytes.includes(Buffer.from(x)));

/** The same behaviour from both implementations. */
function conformance(t: Test, open: () => Promise<RelayStore>): void {
  let store: RelayStore;
  t.before(async () => { store = await open(); });
  t.teardown(() => store.close());

  t.test('put / get / delete, expiry hides a value', async (t) => {
    await store.put('k1', b('v1'), Date.now() + 60_000);
    t.equal(text(await store.get('k1')), 'v1');
    await store.put('k1', b('v2'), Date.now() + 60_000);
    t.equal(text(await store.get('k1')), 'v2', 'put replaces');
    await store.delete('k1');
    t.equal(await store.get('k1'), undefined);
    await store.put('short', b('x'), Date.now() + 50);
    await new Promise((r) => setTimeout(r, 120));
    t.equal(await store.get('short'), undefined, 'expired');
    t.equal(await store.putIfAbsent('short', b('y'), Date.now() + 60_000), undefined, 'an expired value does not block');
  });

  t.test('putIfAbsent is atomic under concurrency: exactly one writer wins', async (t) => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.putIfAbsent('nx', b(`w${i}`), Date.now() + 60_000)));
    const winners = results.filter((r) => r === undefined).length;
    t.equal(winners, 1);
    const stored = text(await store.get('nx'));
    t.ok(results.every((r) => r === undefined || text(r) === stored), 'losers see the winner\'s value');
  });

  t.test('lists append in order and report their length', async (t) => {
    const lens = [];
    for (const v of ['a', 'b', 'c']) lens.push(await store.listAppend('l', b(v), Date.now() + 60_000));
    t.same(lens, [1, 2, 3]);
    t.same((await store.listRead('l')).map(text), ['a', 'b', 'c']);
    t.same(await store.listRead('none'), []);
  });

  t.test('putAllIfAbsent writes the batch in one step, or nothing when the guard is taken', async (t) => {
    const until = Date.now() + 60_000;
    t.equal(await store.putAllIfAbsent({ key: 'g1', value: b('r1'), expiresAt: until }, [
      { key: 'g1-env', value: b('e1'), expiresAt: until }, { key: 'g1-blob', value: b('m1'), expiresAt: until }]), undefined);
    t.same([await store.get('g1'), await store.get('g1-env'), await store.get('g1-blob')].map(text), ['r1', 'e1', 'm1']);
    t.equal(text(await store.putAllIfAbsent({ key: 'g1', value: b('r2'), expiresAt: until }, [{ key: 'g1-env', value: b('e2'), expiresAt: until }])), 'r1',
      'the existing guard value comes back');
    t.equal(text(await store.get('g1-env')), 'e1', 'and the rest of a refused batch is not written');
    const racers = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      store.putAllIfAbsent({ key: 'g2', value: b(`r${i}`), expiresAt: until }, [{ key: `g2-${i}`, value: b('x'), expiresAt: until }])));
    const won = racers.flatMap((r, i) => (r === undefined ? [i] : []));
    t.equal(won.length, 1, 'one batch wins');
    const written = await Promise.all(racers.map((_, i) => store.get(`g2-${i}`)));
    t.same(written.flatMap((w, i) => (w === undefined ? [] : [i])), won, 'only the winner\'s batch is stored');
    t.equal(await store.putAllIfAbsent({ key: 'g3', value: b('r'), expiresAt: Date.now() + 50 }, []), undefined);
    await new Promise((r) => setTimeout(r, 120));
    t.equal(await store.putAllIfAbsent({ key: 'g3', value: b('r'), expiresAt: until }, []), undefined, 'an expired guard does not block');
  });

  t.test('log positions: next position only, once; concurrent appenders cannot both take one', async (t) => {
    t.equal(await store.logAppend('lg', 1, b('skip')), false, 'cannot skip ahead');
    t.equal(await store.logAppend('lg', 0, b('e0')), true);
    t.equal(await store.logAppend('lg', 0, b('again')), false, 'position taken');
    const race = await Promise.all([store.logAppend('lg', 1, b('x')), store.logAppend('lg', 1, b('y'))]);
    t.same(race.filter(Boolean).length, 1);
    const all = (await store.logRead('lg', 0)).map(text);
    t.equal(all.length, 2);
    t.equal(all[0], 'e0');
    t.same((await store.logRead('lg', 1)).length, 1, 'read from a position');
    t.same(await store.logRead('other', 0), [], 'logs are separate');
  });
}

t.test('LmdbRelayStore', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  conformance(t, async () => LmdbRelayStore.open(join(dir, 'relay'), cipher));
});

t.test('RedisRelayStore', async (t) => {
  const prefix = testPrefix('relay-store');
  t.teardown(() => cleanPrefix(prefix));
  conformance(t, () => RedisRelayStore.open({ url: REDIS_URL, prefix, cipher }));
});

t.test('LMDB at rest: no id or metadata in the file; another data key cannot read it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'relay');
  const store = LmdbRelayStore.open(path, cipher);
  await write(store);
  t.equal(text(await store.get('env:kine-martin:ID1'))?.includes('mutuelle-x'), true, 'readable through the store');
  await store.close();
  const file = readFileSync(join(path, 'data.mdb'));
  t.same(inClear(file), [], 'no participant, device or metadata bytes in data.mdb');
  t.notOk(file.includes(Buffer.from('ID1')), 'envelope ids are not in keys either');
  t.throws(() => LmdbRelayStore.open(path, otherCipher), { code: 'PSL_STORE_CORRUPT', message: new RegExp(`${path}.*another data key`) },
    'another data key is refused at open, not a store that quietly looks empty');
  const reopened = LmdbRelayStore.open(path, cipher);
  t.equal(text(await reopened.get('rcpt:kine-martin:ID1')), '{"sender":"kine-martin"}', 'the right key still reads it');
  await reopened.close();
});

t.test('Redis at rest: no id or metadata in any key or value under the prefix', async (t) => {
  const prefix = testPrefix('relay-seal');
  t.teardown(() => cleanPrefix(prefix));
  const store = await RedisRelayStore.open({ url: REDIS_URL, prefix, cipher });
  t.teardown(() => store.close());
  await write(store);
  const client = createClient({ url: REDIS_URL, RESP: 3 });
  await client.connect();
  t.teardown(() => client.quit());
  let seen = 0;
  for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    for (const key of batch) {
      seen++;
      const type = await client.type(key);
      const as = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;
      const values = type === 'string' ? [await client.sendCommand<Buffer>(['GET', key], as)]
        : await client.sendCommand<Buffer[]>(['LRANGE', key, '0', '-1'], as);
      t.same(inClear(Buffer.concat([Buffer.from(key), ...values])), [], `${type} ${key.slice(prefix.length, prefix.length + 12)}…`);
      t.notOk(key.includes('ID1'), 'envelope ids are not in keys');
    }
  }
  t.ok(seen >= 4, `scanned ${seen} keys`);
  await t.rejects(RedisRelayStore.open({ url: REDIS_URL, prefix, cipher: otherCipher }), { code: 'PSL_STORE_CORRUPT', message: /another data key/ },
    'another data key is refused at open, not a store that quietly looks empty');
});

t.test('LMDB written before sealing (layout 1) is migrated on open; a newer layout is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'relay');
  const until = Date.now() + 60_000;
  const legacy = openLmdb({ path, maxDbs: 4 });
  const kv = legacy.openDB<{ v?: Uint8Array; items?: Uint8Array[]; exp: number }, string>('relay-kv', { encoding: 'msgpack' });
  const log = legacy.openDB<Uint8Array, [string, number]>('relay-log', { encoding: 'binary' });
  await kv.put('env:kine-martin:ID1', { v: b('envelope of kine-martin'), exp: until });
  await kv.put('dlv:kine-martin:ID1', { items: [b('d1'), b('d2')], exp: until });
  await log.put(['directory', 0], b('entry 0'));
  await log.put(['directory', 1], b('entry 1'));
  await legacy.close();

  const store = LmdbRelayStore.open(path, cipher);
  t.equal(text(await store.get('env:kine-martin:ID1')), 'envelope of kine-martin');
  t.same((await store.listRead('dlv:kine-martin:ID1')).map(text), ['d1', 'd2']);
  t.same((await store.logRead('directory', 0)).map(text), ['entry 0', 'entry 1']);
  t.equal(await store.logAppend('directory', 2, b('entry 2')), true, 'the log continues at its position');
  await store.close();
  const again = LmdbRelayStore.open(path, cipher);
  t.same((await again.logRead('directory', 1)).map(text), ['entry 1', 'entry 2'], 'migrated once: a second open reads the same');
  await again.close();

  const meta = openLmdb({ path, maxDbs: 4 });
  await meta.openDB<number, string>('relay-meta', { encoding: 'msgpack' }).put('format', 99);
  await meta.close();
  t.throws(() => LmdbRelayStore.open(path, cipher), { code: 'PSL_STORE_CORRUPT', message: new RegExp(`${path}.*layout 99`) });
});

t.test('Redis keys written before sealing (layout 1) are migrated on open; a newer layout is refused', async (t) => {
  const prefix = testPrefix('relay-migrate');
  t.teardown(() => cleanPrefix(prefix));
  const client = createClient({ url: REDIS_URL, RESP: 3 });
  await client.connect();
  t.teardown(() => client.quit());
  const until = Date.now() + 60_000;
  await client.set(`${prefix}env:kine-martin:ID1`, 'envelope of kine-martin', { expiration: { type: 'PXAT', value: until } });
  await client.rPush(`${prefix}dlv:kine-martin:ID1`, ['d1', 'd2']);
  await client.pExpireAt(`${prefix}dlv:kine-martin:ID1`, until);
  await client.rPush(`${prefix}log:directory`, ['entry 0', 'entry 1']);

  const store = await RedisRelayStore.open({ url: REDIS_URL, prefix, cipher });
  t.teardown(() => store.close());
  t.equal(text(await store.get('env:kine-martin:ID1')), 'envelope of kine-martin');
  t.same((await store.listRead('dlv:kine-martin:ID1')).map(text), ['d1', 'd2']);
  t.same((await store.logRead('directory', 0)).map(text), ['entry 0', 'entry 1']);
  const keys = await client.keys(`${prefix}*`);
  t.same(keys.filter((k) => k.includes('kine-martin') || k.endsWith('log:directory')), [], 'the clear keys are gone');
  t.equal(await client.get(`${prefix}format`), '2');
  const expiry = Math.max(...await Promise.all(keys.filter((k) => !k.endsWith('format') && !k.includes(':log:')).map((k) => client.pExpireTime(k))));
  t.equal(expiry, until, 'expiry carried over');

  await client.set(`${prefix}format`, '99');
  await t.rejects(RedisRelayStore.open({ url: REDIS_URL, prefix, cipher }), { code: 'PSL_STORE_CORRUPT', message: /layout 99/ });
});
