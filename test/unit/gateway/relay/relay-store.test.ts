import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { createClient, RESP_TYPES } from 'redis';
import type { EnvelopeAcceptance, RelayStore } from '../../../../gateway/core/relay-store.js';
import type { Store } from '../../../../gateway/core/ports.js';
import { loadSodium } from '../../../../protocol/crypto/sodium.js';
import { AtRestCipher } from '../../../../gateway/store/at-rest.js';
import { cleanPrefix, testPrefix } from '../../../helpers/redis.js';
import { openLmdbRelay, openRedisRelay, type OpenedRelay } from '../../../helpers/relay-stores.js';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (u: Uint8Array | undefined): string | undefined => (u === undefined ? undefined : new TextDecoder().decode(u));
const sodium = await loadSodium();
const cipher = new AtRestCipher(sodium, sodium.randombytes_buf(32));
const otherCipher = new AtRestCipher(sodium, sodium.randombytes_buf(32));
/** What the relay writes: participant and device ids in keys, routing metadata in values. */
const SECRETS = ['kine-martin', 'mutuelle-x', 'ingest-a', 'META-SIZE-4242'];
const later = (): number => Date.now() + 60_000;

/** An acceptance of envelope `id` for `devices` (queue names `q:<id>:<device>`). */
function acceptance(id: string, devices: string[], receipt = `receipt ${id}`): EnvelopeAcceptance {
  return {
    receipt: { key: `rcpt:kine-martin:${id}`, value: b(receipt), expiresAt: later() },
    values: [{ key: `env:kine-martin:${id}`, value: b(`envelope ${id}`), expiresAt: later() }],
    deliveries: devices.map((d) => ({ queue: `q:${id}:${d}`, item: { id: `kine-martin:${id}`, payload: { e: id } } })),
    audit: { action: 'message.accepted', actor: 'kine-martin', subject: id },
  };
}

const write = async (store: RelayStore): Promise<void> => {
  await store.acceptEnvelope({
    receipt: { key: 'rcpt:kine-martin:ID1', value: b('{"sender":"kine-martin"}'), expiresAt: later() },
    values: [{ key: 'env:kine-martin:ID1', value: b('{"to":[{"participant":"mutuelle-x","device":"ingest-a"}],"size":"META-SIZE-4242"}'), expiresAt: later() }],
    deliveries: [], audit: { action: 'message.accepted', actor: 'gateway', subject: 'x' },
  });
  await store.listAppend('dlv:kine-martin:ID1', b('{"participant":"mutuelle-x","device":"ingest-a"}'), later());
  await store.logAppend('directory', 0, b('{"participant":"kine-martin"}'));
};
const inClear = (bytes: Buffer): string[] => SECRETS.filter((x) => bytes.includes(Buffer.from(x)));
const auditActions = async (store: Store, subject: string): Promise<string[]> =>
  (await store.readAudit()).filter((e) => e.subject === subject).map((e) => e.action);

/** The same behaviour from both implementations. */
function conformance(t: Test, open: () => Promise<OpenedRelay>): void {
  let opened: OpenedRelay;
  let store: RelayStore;
  t.before(async () => {
    opened = await open();
    store = opened.relay;
  });
  t.teardown(() => opened.close());

  t.test('put / get / delete, expiry hides a value', async (t) => {
    await store.put('k1', b('v1'), later());
    t.equal(text(await store.get('k1')), 'v1');
    await store.put('k1', b('v2'), later());
    t.equal(text(await store.get('k1')), 'v2', 'put replaces');
    await store.delete('k1');
    t.equal(await store.get('k1'), undefined);
    await store.put('short', b('x'), Date.now() + 50);
    await new Promise((r) => setTimeout(r, 120));
    t.equal(await store.get('short'), undefined, 'expired');
  });

  t.test('lists append in order and report their length', async (t) => {
    const lens = [];
    for (const v of ['a', 'b', 'c']) lens.push(await store.listAppend('l', b(v), later()));
    t.same(lens, [1, 2, 3]);
    t.same((await store.listRead('l')).map(text), ['a', 'b', 'c']);
    t.same(await store.listRead('none'), []);
  });

  t.test('acceptEnvelope writes receipt, values, queue entries and audit entry together, or nothing', async (t) => {
    t.equal(await store.acceptEnvelope(acceptance('A1', ['d1', 'd2'])), undefined, 'stored');
    t.same([await store.get('rcpt:kine-martin:A1'), await store.get('env:kine-martin:A1')].map(text), ['receipt A1', 'envelope A1']);
    for (const d of ['d1', 'd2']) t.equal((await opened.store.queueStats(`q:A1:${d}`)).depth, 1, `queued for ${d}`);
    t.same(await auditActions(opened.store, 'A1'), ['message.accepted'], 'audited once');

    const again = acceptance('A1', ['d1', 'd3'], 'receipt A1 bis');
    t.equal(text(await store.acceptEnvelope({ ...again, values: [{ key: 'env:kine-martin:A1', value: b('other'), expiresAt: later() }] })),
      'receipt A1', 'a live receipt comes back');
    t.equal(text(await store.get('env:kine-martin:A1')), 'envelope A1', 'its values are not rewritten');
    t.equal((await opened.store.queueStats('q:A1:d3')).depth, 0, 'nor its queue entries written');
    t.same(await auditActions(opened.store, 'A1'), ['message.accepted'], 'nor audited');
    t.equal(await opened.store.verifyAudit(), undefined, 'the audit chain holds');
  });

  t.test('acceptEnvelope under concurrency: one submission wins, alone', async (t) => {
    const racers = await Promise.all(Array.from({ length: 20 }, (_, i) => store.acceptEnvelope({
      ...acceptance('A2', [`w${i}`], `r${i}`), values: [{ key: `env:kine-martin:A2-${i}`, value: b('x'), expiresAt: later() }],
    })));
    const won = racers.flatMap((r, i) => (r === undefined ? [i] : []));
    t.equal(won.length, 1, 'one wins');
    t.ok(racers.every((r) => r === undefined || text(r) === `r${won[0]}`), 'the others get its receipt');
    const written = await Promise.all(racers.map((_, i) => store.get(`env:kine-martin:A2-${i}`)));
    t.same(written.flatMap((w, i) => (w === undefined ? [] : [i])), won, 'only the winner\'s values are stored');
    const queued = await Promise.all(racers.map((_, i) => opened.store.queueStats(`q:A2:w${i}`)));
    t.same(queued.flatMap((q, i) => (q.depth === 1 ? [i] : [])), won, 'only the winner\'s queue entries');
    t.same(await auditActions(opened.store, 'A2'), ['message.accepted'], 'one audit entry');
    t.equal(await opened.store.verifyAudit(), undefined, 'the audit chain holds');
  });

  t.test('an expired receipt does not block a submission', async (t) => {
    t.equal(await store.acceptEnvelope({ ...acceptance('A3', []), receipt: { key: 'rcpt:kine-martin:A3', value: b('old'), expiresAt: Date.now() + 50 } }), undefined);
    await new Promise((r) => setTimeout(r, 120));
    t.equal(await store.acceptEnvelope(acceptance('A3', [])), undefined, 'stored again');
    t.equal(text(await store.get('rcpt:kine-martin:A3')), 'receipt A3');
  });

  t.test('settleDelivery completes the lease, appends the outcome, audits, and drops the envelope at the count', async (t) => {
    await store.acceptEnvelope(acceptance('S1', ['d1', 'd2']));
    const settle = async (device: string): Promise<number> => {
      const lease = await opened.store.claim(`q:S1:${device}`, 30_000);
      t.ok(lease, `claimed for ${device}`);
      return store.settleDelivery(lease!, {
        outcome: { key: 'dlv:kine-martin:S1', value: b(`delivered ${device}`), expiresAt: later() },
        audit: { action: 'message.delivered', actor: 'mutuelle-x', subject: 'S1', detail: { device } },
        drop: { key: 'env:kine-martin:S1', count: 2 },
      });
    };
    t.equal(await settle('d1'), 1);
    t.equal((await opened.store.queueStats('q:S1:d1')).depth + (await opened.store.queueStats('q:S1:d1')).inFlight, 0, 'lease completed');
    t.equal(text(await store.get('env:kine-martin:S1')), 'envelope S1', 'kept while a device is owed');
    t.equal(await settle('d2'), 2);
    t.equal(await store.get('env:kine-martin:S1'), undefined, 'deleted after the last device');
    t.equal(text(await store.get('rcpt:kine-martin:S1')), 'receipt S1', 'the receipt stays (dedup)');
    t.same((await store.listRead('dlv:kine-martin:S1')).map(text), ['delivered d1', 'delivered d2']);
    t.same(await auditActions(opened.store, 'S1'), ['message.accepted', 'message.delivered', 'message.delivered']);
  });

  t.test('settleDelivery on a lost lease writes nothing', async (t) => {
    await store.acceptEnvelope(acceptance('S2', ['d1']));
    const lease = await opened.store.claim('q:S2:d1', 30_000);
    await opened.store.complete(lease!);
    await t.rejects(store.settleDelivery(lease!, {
      outcome: { key: 'dlv:kine-martin:S2', value: b('late'), expiresAt: later() },
      audit: { action: 'message.delivered', actor: 'mutuelle-x', subject: 'S2' },
      drop: { key: 'env:kine-martin:S2', count: 1 },
    }), { code: 'PSL_LEASE_LOST' });
    t.same(await store.listRead('dlv:kine-martin:S2'), [], 'no outcome');
    t.equal(text(await store.get('env:kine-martin:S2')), 'envelope S2', 'the envelope stays');
    t.same(await auditActions(opened.store, 'S2'), ['message.accepted'], 'not audited');
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

t.test('LmdbStore relay tables', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  conformance(t, () => openLmdbRelay(join(dir, 'lmdb'), cipher));
});

t.test('RedisStore relay keys', async (t) => {
  const prefix = testPrefix('relay-store');
  t.teardown(() => cleanPrefix(prefix));
  conformance(t, () => openRedisRelay(prefix, cipher));
});

t.test('LMDB at rest: no id or metadata in the file; another data key cannot read it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'lmdb');
  const opened = await openLmdbRelay(path, cipher);
  await write(opened.relay);
  t.equal(text(await opened.relay.get('env:kine-martin:ID1'))?.includes('mutuelle-x'), true, 'readable through the store');
  await opened.close();
  const file = readFileSync(join(path, 'data.mdb'));
  t.same(inClear(file), [], 'no participant, device or metadata bytes in data.mdb');
  t.notOk(file.includes(Buffer.from('ID1')), 'envelope ids are not in keys either');
  await t.rejects(openLmdbRelay(path, otherCipher), { code: 'PSL_STORE_CORRUPT', message: /another data key/ },
    'another data key is refused at open, not a store that quietly looks empty');
  const reopened = await openLmdbRelay(path, cipher);
  t.equal(text(await reopened.relay.get('rcpt:kine-martin:ID1')), '{"sender":"kine-martin"}', 'the right key still reads it');
  await reopened.close();
});

t.test('Redis at rest: no id or metadata in any relay key or value', async (t) => {
  const prefix = testPrefix('relay-seal');
  t.teardown(() => cleanPrefix(prefix));
  const opened = await openRedisRelay(prefix, cipher);
  t.teardown(() => opened.close());
  await write(opened.relay);
  const client = createClient({ url: process.env.PASSERELLE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', RESP: 3 });
  await client.connect();
  t.teardown(() => client.quit());
  let seen = 0;
  for await (const batch of client.scanIterator({ MATCH: `${prefix}relay:*`, COUNT: 500 })) {
    for (const key of batch) {
      seen++;
      const type = await client.type(key);
      const as = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;
      const values = type === 'string' ? [await client.sendCommand<Buffer>(['GET', key], as)]
        : await client.sendCommand<Buffer[]>(['LRANGE', key, '0', '-1'], as);
      t.same(inClear(Buffer.concat([Buffer.from(key), ...values])), [], `${type} ${key.slice(prefix.length, prefix.length + 18)}…`);
      t.notOk(key.includes('ID1'), 'envelope ids are not in keys');
    }
  }
  t.ok(seen >= 4, `scanned ${seen} keys`);
  await t.rejects(openRedisRelay(prefix, otherCipher), { code: 'PSL_STORE_CORRUPT', message: /another data key/ },
    'another data key is refused at open, not a store that quietly looks empty');
});

/** A relay environment as an earlier version kept it, in its own directory beside the Store's. */
async function legacyRelayEnv(path: string, fill: (kv: ReturnType<typeof kvDb>, log: ReturnType<typeof logDb>, meta: ReturnType<typeof metaDb>) => Promise<void>): Promise<void> {
  const legacy = openLmdb({ path, maxDbs: 4 });
  await fill(kvDb(legacy), logDb(legacy), metaDb(legacy));
  await legacy.close();
}
const kvDb = (env: ReturnType<typeof openLmdb>) => env.openDB<{ v?: Uint8Array; items?: Uint8Array[]; exp: number }, string>('relay-kv', { encoding: 'msgpack' });
const logDb = (env: ReturnType<typeof openLmdb>) => env.openDB<Uint8Array, [string, number]>('relay-log', { encoding: 'binary' });
const metaDb = (env: ReturnType<typeof openLmdb>) => env.openDB<number, string>('relay-meta', { encoding: 'msgpack' });

t.test('LMDB: an earlier version\'s relay environment (its own directory) is moved in on open', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  t.test('a sealed one (layout 2): values, lists and log positions carry over; the directory is removed', async (t) => {
    const path = join(dir, 'sealed');
    const before = await openLmdbRelay(`${path}-old`, cipher);
    await write(before.relay);
    await before.close();
    // What the earlier layout was: the relay tables alone, in `<store path>-relay`.
    await legacyRelayEnv(`${path}-relay`, async (kv, log, meta) => {
      const old = openLmdb({ path: `${path}-old`, maxDbs: 12 });
      for (const [from, to] of [[kvDb(old), kv], [logDb(old), log], [metaDb(old), meta]] as const) {
        for (const { key, value } of (from as ReturnType<typeof kvDb>).getRange({})) await (to as ReturnType<typeof kvDb>).put(key, value);
      }
      await old.close();
    });
    const opened = await openLmdbRelay(path, cipher);
    t.teardown(() => opened.close());
    t.equal(text(await opened.relay.get('rcpt:kine-martin:ID1')), '{"sender":"kine-martin"}');
    t.equal((await opened.relay.listRead('dlv:kine-martin:ID1')).length, 1);
    t.equal(await opened.relay.logAppend('directory', 1, b('next')), true, 'the log continues at its position');
    t.notOk(existsSync(`${path}-relay`), 'the old directory is gone');
  });

  t.test('a layout-1 one (plain values under clear keys) is moved in and sealed', async (t) => {
    const path = join(dir, 'plain');
    await legacyRelayEnv(`${path}-relay`, async (kv, log) => {
      await kv.put('env:kine-martin:ID1', { v: b('envelope of kine-martin'), exp: later() });
      await kv.put('dlv:kine-martin:ID1', { items: [b('d1'), b('d2')], exp: later() });
      await log.put(['directory', 0], b('entry 0'));
      await log.put(['directory', 1], b('entry 1'));
    });
    const opened = await openLmdbRelay(path, cipher);
    t.equal(text(await opened.relay.get('env:kine-martin:ID1')), 'envelope of kine-martin');
    t.same((await opened.relay.listRead('dlv:kine-martin:ID1')).map(text), ['d1', 'd2']);
    t.same((await opened.relay.logRead('directory', 0)).map(text), ['entry 0', 'entry 1']);
    t.equal(await opened.relay.logAppend('directory', 2, b('entry 2')), true, 'the log continues at its position');
    await opened.close();
    t.same(inClear(readFileSync(join(path, 'data.mdb'))), [], 'sealed in the Store\'s file');
    const again = await openLmdbRelay(path, cipher);
    t.same((await again.relay.logRead('directory', 1)).map(text), ['entry 1', 'entry 2'], 'a second open reads the same');
    await again.close();
  });

  t.test('a newer layout is refused', async (t) => {
    const path = join(dir, 'newer');
    await (await openLmdbRelay(path, cipher)).close();
    const env = openLmdb({ path, maxDbs: 12 });
    await metaDb(env).put('format', 99);
    await env.close();
    await t.rejects(openLmdbRelay(path, cipher), { code: 'PSL_STORE_CORRUPT', message: /layout 99/ });
  });
});

t.test('Redis keys written before sealing (layout 1) are migrated on open; a newer layout is refused', async (t) => {
  const prefix = testPrefix('relay-migrate');
  const relay = `${prefix}relay:`;
  t.teardown(() => cleanPrefix(prefix));
  const client = createClient({ url: process.env.PASSERELLE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', RESP: 3 });
  await client.connect();
  t.teardown(() => client.quit());
  const until = later();
  await client.set(`${relay}env:kine-martin:ID1`, 'envelope of kine-martin', { expiration: { type: 'PXAT', value: until } });
  await client.rPush(`${relay}dlv:kine-martin:ID1`, ['d1', 'd2']);
  await client.pExpireAt(`${relay}dlv:kine-martin:ID1`, until);
  await client.rPush(`${relay}log:directory`, ['entry 0', 'entry 1']);

  const opened = await openRedisRelay(prefix, cipher);
  t.teardown(() => opened.close());
  t.equal(text(await opened.relay.get('env:kine-martin:ID1')), 'envelope of kine-martin');
  t.same((await opened.relay.listRead('dlv:kine-martin:ID1')).map(text), ['d1', 'd2']);
  t.same((await opened.relay.logRead('directory', 0)).map(text), ['entry 0', 'entry 1']);
  const keys = await client.keys(`${relay}*`);
  t.same(keys.filter((k) => k.includes('kine-martin') || k.endsWith('log:directory')), [], 'the clear keys are gone');
  t.equal(await client.get(`${relay}format`), '2');
  const expiry = Math.max(...await Promise.all(keys.filter((k) => !k.endsWith('format') && !k.includes(':log:')).map((k) => client.pExpireTime(k))));
  t.equal(expiry, until, 'expiry carried over');

  await client.set(`${relay}format`, '99');
  await t.rejects(openRedisRelay(prefix, cipher), { code: 'PSL_STORE_CORRUPT', message: /layout 99/ });
});

t.test('LMDB: an accept that fails after its first write leaves nothing behind', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const opened = await openLmdbRelay(join(dir, 'lmdb'), cipher);
  t.teardown(() => opened.close());
  // A queue name past LMDB's key size makes the enqueue throw after the receipt and envelope were put.
  await t.rejects(opened.relay.acceptEnvelope(acceptance('F1', ['x'.repeat(4000)])));
  t.equal(await opened.relay.get('rcpt:kine-martin:F1'), undefined, 'no receipt');
  t.equal(await opened.relay.get('env:kine-martin:F1'), undefined, 'no envelope');
  t.same(await auditActions(opened.store, 'F1'), [], 'no audit entry');
  t.equal(await opened.relay.acceptEnvelope(acceptance('F1', ['d1'])), undefined, 'a retry is accepted');
});
