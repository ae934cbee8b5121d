import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createClient, RESP_TYPES } from 'redis';
import type { Store } from '../../gateway/core/ports.js';
import type { AuditEntry } from '../../gateway/core/types.js';
import { loadSodium } from '../../protocol/crypto/sodium.js';
import { AtRestCipher } from '../../gateway/store/at-rest.js';
import { createConn, LuaScript } from '../../gateway/store/redis-conn.js';
import { RedisStore } from '../../gateway/store/redis-store.js';
import { cleanPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { makeRaw, makeRecord, storeConformance, type StoreUnderTest } from './store.conformance.js';
import { batchConformance } from './batch.conformance.js';

const sodium = await loadSodium();
const cipher = new AtRestCipher(sodium, sodium.randombytes_buf(32));

// Our own connection for looking behind the store's back (tamper, at-rest scan).
const peek = createClient({ url: REDIS_URL, RESP: 3 });
await peek.connect();
t.teardown(() => peek.close());
const peekBytes = peek.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });

const openStore = (prefix: string, options: { cipher?: AtRestCipher } = {}): Promise<RedisStore> =>
  RedisStore.open({ url: REDIS_URL, prefix, cipher: options.cipher ?? cipher, durability: 'none' });

/** A fresh RedisStore on its own key prefix; cleanup closes it and deletes the prefix. */
async function openFresh(): Promise<StoreUnderTest & { prefix: string }> {
  const prefix = testPrefix('redis-store');
  let store: Store = await openStore(prefix);
  return {
    prefix,
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      store = await openStore(prefix);
      return store;
    },
    async cleanup() {
      await store.close();
      await cleanPrefix(prefix);
    },
    // Rewrites one audit entry in place, as anyone with access to Redis could.
    async tamper(seq: number) {
      const key = `${prefix}audit`;
      const json = await peek.lIndex(key, seq - 1);
      if (json === null) throw new Error(`no audit entry ${seq}`);
      const entry = JSON.parse(json) as AuditEntry;
      await peek.lSet(key, seq - 1, JSON.stringify({ ...entry, actor: 'someone-else' }));
      return store;
    },
  };
}

await storeConformance(t, 'RedisStore', openFresh);
await batchConformance(t, 'RedisStore', openFresh);

t.test('nothing readable at rest: no key name or value under the prefix holds the marker', async (t) => {
  const MARKER = 'MARKER-ZEBULON-4711';
  const sut = await openFresh();
  t.teardown(() => sut.cleanup());
  const { store } = sut;
  const raw = makeRaw({ body: `MSH|^~\\&|A|B\rPID|1||${MARKER}^^^HOSP||${MARKER}^JEAN`, sourceRef: 'CTRL-7', request: `POST Patient?identifier=urn:x|${MARKER}` });
  t.equal((await store.putRaw(raw)).status, 'stored');
  const ident = { system: 'urn:oid:1.2.250.1.71.4.2.7', value: `${MARKER}-MRN` };
  const rec = await store.putRecord(makeRecord({ identifiers: [ident], extra: { name: [{ family: MARKER }] } }));
  await store.putRecord(makeRecord({ id: rec.id, identifiers: [ident], extra: { name: [{ family: MARKER, given: ['B'] }] } }));
  await store.putRecord(makeRecord({ resourceType: 'Observation', identifiers: [ident], patientId: rec.id }));
  await store.enqueue('dest-1', { id: 'env_1', payload: { recId: rec.id } });
  await store.appendAudit({ action: 'record.created', actor: 'normalizer', subject: rec.id });
  t.match(await store.getRecord(rec.id), { version: 2, resource: { name: [{ family: MARKER }] } }, 'readable through the store');
  t.same((await store.findByIdentifier(ident)).map((r) => r.resourceType).sort(), ['Observation', 'Patient']);
  t.ok(Buffer.from((await store.getRaw(raw.id))?.body ?? []).includes(MARKER), 'the raw opens through the store');

  const needle = Buffer.from(MARKER);
  let keys = 0;
  for await (const batch of peek.scanIterator({ MATCH: `${sut.prefix}*`, COUNT: 200 })) {
    for (const key of batch) {
      keys++;
      t.notOk(key.includes(MARKER), 'key name is clean');
      const dump = await peekBytes.dump(key);
      t.ok(dump && !dump.includes(needle), `DUMP of ${key.slice(sut.prefix.length)} is clean`);
      t.notOk(await valueOf(key).then((b) => b.includes(needle)), `value of ${key.slice(sut.prefix.length)} is clean`);
    }
  }
  t.ok(keys >= 10, `scanned ${keys} keys`);
});

/** Every byte a key holds, read with the command for its type. */
async function valueOf(key: string): Promise<Buffer> {
  const type = await peek.type(key);
  const parts: Buffer[] = [];
  const add = (v: unknown): void => {
    if (Buffer.isBuffer(v)) parts.push(v);
    else if (Array.isArray(v)) v.forEach(add);
    else if (v !== null && typeof v === 'object') Object.entries(v).forEach(([k, x]) => { parts.push(Buffer.from(k)); add(x); });
    else parts.push(Buffer.from(String(v)));
  };
  switch (type) {
    case 'string': add(await peekBytes.get(key)); break;
    case 'hash': add(await peekBytes.hGetAll(key)); break;
    case 'set': add(await peekBytes.sMembers(key)); break;
    case 'zset': add(await peekBytes.zRange(key, 0, -1)); break;
    case 'list': add(await peekBytes.lRange(key, 0, -1)); break;
    case 'stream': add(await peek.xRange(key, '-', '+')); break;
    default: throw new Error(`unexpected key type ${type}`);
  }
  return Buffer.concat(parts);
}

t.test('two stores on one prefix (two gateway processes) share queues, dedupe and audit safely', async (t) => {
  const a = await openFresh();
  const b = await openStore(a.prefix);
  t.teardown(async () => {
    await b.close();
    await a.cleanup();
  });
  const twins = Array.from({ length: 10 }, () => makeRaw({ body: 'MSH|cross-process twin' }));
  const results = await Promise.all(twins.map((r, i) => (i % 2 === 0 ? a.store : b).putRaw(r)));
  t.equal(results.filter((r) => r.status === 'stored').length, 1, 'one stored across both processes');

  await Promise.all(Array.from({ length: 30 }, (_, i) => a.store.enqueue('q', { id: `i${i}`, payload: { i } })));
  const leases = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a.store : b).claim('q', 60_000)));
  const got = leases.filter((l) => l !== undefined);
  t.equal(got.length, 30);
  t.equal(new Set(got.map((l) => l.item.id)).size, 30, 'no item handed to both processes');

  const entries = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a.store : b).appendAudit({ action: 'x', actor: `p${i % 2}` })));
  t.same(entries.map((e) => e.seq).sort((x, y) => x - y), Array.from({ length: 40 }, (_, i) => i + 1));
  t.equal(await b.verifyAudit(), undefined, 'one intact chain');
});

t.test('a lease taken over by another process is lost for the first', async (t) => {
  const a = await openFresh();
  const b = await openStore(a.prefix);
  t.teardown(async () => {
    await b.close();
    await a.cleanup();
  });
  await a.store.enqueue('q', { id: 'x', payload: {} });
  const first = await a.store.claim('q', 100);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const second = await b.claim('q', 60_000);
  t.equal(second?.item.id, 'x');
  t.equal(second?.attempt, 2);
  if (!first || !second) throw new Error('expected two leases');
  await t.rejects(a.store.complete(first), { code: 'PSL_LEASE_LOST' });
  await t.resolves(a.store.complete(second), 'the current token works from any process');
});

t.test('open warns (settings only) when the server gives less durability than configured', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } });
  const prefix = testPrefix('redis-durability');
  const store = await RedisStore.open({ url: REDIS_URL, prefix, cipher, durability: 'always', log: pino(sink) });
  t.teardown(() => store.close());
  const config = await peek.configGet(['appendonly', 'appendfsync']);
  const warned = lines.some((l) => l.includes('redis durability below configured'));
  const honoured = config.appendonly === 'yes' && config.appendfsync === 'always';
  t.equal(warned, !honoured, honoured ? 'no warning: AOF fsync always is on' : 'a warning: the server does not fsync every write');
  if (warned) t.match(JSON.parse(lines[0] ?? '{}'), { wanted: 'always', appendonly: config.appendonly, appendfsync: config.appendfsync });
});

t.test('bad options and closed stores fail with codes', async (t) => {
  await t.rejects(RedisStore.open({ url: REDIS_URL, prefix: '', cipher, durability: 'none' }), { code: 'PSL_CONFIG_INVALID' });
  await t.rejects(RedisStore.open({ url: 'redis://127.0.0.1:1', prefix: 'x:', cipher, durability: 'none' }), { code: 'PSL_STORE_UNAVAILABLE' });
  const sut = await openFresh();
  t.teardown(() => sut.cleanup());
  await sut.store.close();
  await t.rejects(sut.store.putRaw(makeRaw({ body: 'late' })), { code: 'PSL_SHUTTING_DOWN' });
  await t.resolves(sut.store.close(), 'closing twice is fine');
});

t.test('another data key cannot open what was written', async (t) => {
  const sut = await openFresh();
  t.teardown(() => sut.cleanup());
  const raw = makeRaw({ body: 'secret bytes' });
  await sut.store.putRaw(raw);
  const rec = await sut.store.putRecord(makeRecord());
  const other = await openStore(sut.prefix, { cipher: new AtRestCipher(sodium, sodium.randombytes_buf(32)) });
  t.teardown(() => other.close());
  await t.rejects(other.getRaw(raw.id), { code: 'PSL_STORE_CORRUPT' });
  await t.rejects(other.getRecord(rec.id), { code: 'PSL_STORE_CORRUPT' });
  t.match(await other.getRawMeta(raw.id), { id: raw.id, sha256: raw.sha256 }, 'metadata stays readable');
});

t.test('a script the server has never seen runs through the EVAL fallback', async (t) => {
  const conn = createConn(REDIS_URL);
  await conn.connect();
  t.teardown(() => conn.close());
  const script = new LuaScript('probe-0', 0, `-- probe-0: returns ARGV[1]\n-- ${testPrefix('nonce')}\nreturn ARGV[1]`);
  t.equal(await script.run<string>(conn, [], ['hello']), 'hello', 'NOSCRIPT → EVAL');
  t.equal(await script.run<string>(conn, [], ['again']), 'again', 'then EVALSHA');
  await t.rejects(script.run(conn, ['k'], []), { code: 'PSL_INTERNAL' }, 'wrong key count is refused');
});
