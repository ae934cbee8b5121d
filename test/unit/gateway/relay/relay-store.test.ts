import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LmdbRelayStore } from '../../../../gateway/relay/lmdb-relay-store.js';
import { RedisRelayStore } from '../../../../gateway/relay/redis-relay-store.js';
import type { RelayStore } from '../../../../gateway/relay/relay-store.js';
import { cleanPrefix, REDIS_URL, testPrefix } from '../../../helpers/redis.js';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (u: Uint8Array | undefined): string | undefined => (u === undefined ? undefined : new TextDecoder().decode(u));

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
  conformance(t, async () => LmdbRelayStore.open(join(dir, 'relay')));
});

t.test('RedisRelayStore', async (t) => {
  const prefix = testPrefix('relay-store');
  t.teardown(() => cleanPrefix(prefix));
  conformance(t, () => RedisRelayStore.open({ url: REDIS_URL, prefix }));
});
