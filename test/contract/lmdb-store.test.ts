import t from 'tap';
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSodium } from '../../protocol/crypto/sodium.js';
import { AtRestCipher } from '../../gateway/store/at-rest.js';
import { LmdbStore } from '../../gateway/store/lmdb-store.js';
import { openLmdb } from '../../gateway/store/lmdb-schema.js';
import type { Store } from '../../gateway/core/ports.js';
import { makeRaw, makeRecord, storeConformance, type StoreUnderTest } from './store.conformance.js';
import { batchConformance } from './batch.conformance.js';

const sodium = await loadSodium();
const CRASH_DIR = process.env.PASSERELLE_LMDB_CRASH_DIR;
const dataKey = CRASH_DIR === undefined ? sodium.randombytes_buf(32) : Buffer.from(process.env.PASSERELLE_LMDB_CRASH_KEY ?? '', 'hex');
const cipher = new AtRestCipher(sodium, dataKey);
const CRASH_ACKS = 200;

/**
 * Child half of the crash test (this file re-run with PASSERELLE_LMDB_CRASH_DIR set): 500 concurrent
 * putRaw, prints each acknowledged id synchronously, and SIGKILLs itself after CRASH_ACKS acks,
 * with later puts still queued or mid-commit.
 */
async function crashChild(dir: string): Promise<never> {
  const store = await LmdbStore.open({ path: dir, cipher });
  let acked = 0;
  await Promise.all(Array.from({ length: 500 }, async (_, i) => {
    const raw = makeRaw({ body: `crash-body-${i}`, sourceRef: `crash-${i}` });
    const result = await store.putRaw(raw);
    writeSync(1, `acked ${result.rawId} ${i}\n`);
    if (++acked === CRASH_ACKS) process.kill(process.pid, 'SIGKILL');
  }));
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

if (CRASH_DIR !== undefined) await crashChild(CRASH_DIR);

/** A fresh LmdbStore in its own temp dir; cleanup closes it and removes the dir. */
async function openFresh(): Promise<StoreUnderTest & { dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'passerelle-lmdb-'));
  let store: Store = await LmdbStore.open({ path: dir, cipher });
  const reopen = async (): Promise<Store> => {
    await store.close();
    store = await LmdbStore.open({ path: dir, cipher });
    return store;
  };
  return {
    dir,
    get store() {
      return store;
    },
    reopen,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
    // Rewrites an audit entry through bare lmdb, as someone with file access could.
    async tamper(seq: number) {
      await store.close();
      const dbs = openLmdb(dir);
      const entry = dbs.audit.get(seq);
      if (entry === undefined) throw new Error(`no audit entry ${seq}`);
      await dbs.audit.put(seq, { ...entry, actor: 'someone-else' });
      await dbs.env.close();
      store = await LmdbStore.open({ path: dir, cipher });
      return store;
    },
  };
}

await storeConformance(t, 'LmdbStore', openFresh);
await batchConformance(t, 'LmdbStore', openFresh);

t.test('commitBatch plans outside the write lock; a batch whose reads changed runs again inside it', async (t) => {
  const sut = await openFresh();
  t.teardown(() => sut.cleanup());
  const store = sut.store as LmdbStore;
  const patient = (n: number): Parameters<Store['putRecord']>[0] =>
    makeRecord({ identifiers: [{ system: 'urn:oid:1.2.250.1.71.4.2.7', value: 'MRN-PLAN' }], extra: { n } });
  await store.commitBatch([], (txn) => txn.putRecord(patient(0)));
  t.same(store.batchPlans, { planned: 1, replanned: 0 }, 'alone, a batch commits what it planned');
  // Eight batches planned against version 1 at once: the first commits its plan, the others see
  // that the record moved on and run again in their transaction, each on top of the previous.
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.commitBatch([], (txn) => txn.putRecord(patient(i + 1)))));
  t.same(results.map((r) => r.result.version).sort((a, b) => a - b), [2, 3, 4, 5, 6, 7, 8, 9]);
  t.same(store.batchPlans, { planned: 2, replanned: 7 });
});

t.test('an idle claim by the holder of a fresh applier lease commits nothing', async (t) => {
  const sut = await openFresh();
  t.teardown(() => sut.cleanup());
  const stats = (): number => (openLmdb(sut.dir).env.getStats() as { lastTxnId: number }).lastTxnId;
  await sut.store.claimBatch('q', { max: 10, leaseMs: 30_000, applier: 'w' });
  const before = stats();
  for (let i = 0; i < 5; i++) t.same(await sut.store.claimBatch('q', { max: 10, leaseMs: 30_000, applier: 'w' }), []);
  t.equal(stats(), before, 'five polls of an empty queue: no write transaction committed');
  await sut.store.enqueue('q', { id: 'x', payload: {} });
  t.equal((await sut.store.claimBatch('q', { max: 10, leaseMs: 30_000, applier: 'w' })).length, 1, 'an item is still claimed');
  await sut.store.claimBatch('q', { max: 0, leaseMs: 0, applier: 'w' });
  await sut.store.enqueue('q', { id: 'y', payload: {} });
  t.equal((await sut.store.claimBatch('q', { max: 10, leaseMs: 30_000, applier: 'other' })).length, 1, 'a release still writes: another applier takes the queue at once');
});

t.test('nothing readable at rest: bodies, resources and identifiers are not in the files', async (t) => {
  const MARKER = 'MARKER-ZEBULON-4711';
  const sut = await openFresh();
  t.teardown(() => sut.cleanup());
  const raw = makeRaw({ body: `MSH|^~\\&|A|B\rPID|1||${MARKER}^^^HOSP||${MARKER}^JEAN`, request: `POST Patient?identifier=urn:x|${MARKER}` });
  t.equal((await sut.store.putRaw(raw)).status, 'stored');
  const ident = { system: 'urn:oid:1.2.250.1.71.4.2.7', value: `${MARKER}-MRN` };
  const rec = await sut.store.putRecord(makeRecord({
    identifiers: [ident], extra: { name: [{ family: MARKER }] },
    provenance: { feed: 'feed-a', participant: 'clinic-1', rawId: raw.id, location: 'PID[1]', mapping: 'hl7v2-adt@1', receivedAt: MARKER },
  }));
  await sut.store.putRecord(makeRecord({ id: rec.id, identifiers: [ident], extra: { name: [{ family: MARKER, given: ['B'] }] } }));
  t.match(await sut.store.getRecord(rec.id), { version: 2, resource: { name: [{ family: MARKER }] } }, 'readable through the store');
  t.same((await sut.store.findByIdentifier(ident)).map((r) => r.id), [rec.id], 'findable by the identifier');
  await sut.store.close();

  const files = await readdir(sut.dir);
  t.ok(files.length > 0, 'the data dir has files');
  let scanned = 0;
  for (const name of files) {
    const bytes = await readFile(join(sut.dir, name));
    scanned += bytes.length;
    t.notOk(bytes.includes(Buffer.from(MARKER)), `${name} does not contain the marker`);
    t.notOk(bytes.includes(Buffer.from(MARKER, 'utf16le')), `${name} does not contain the marker as UTF-16`);
  }
  t.ok(scanned > 0, 'bytes were scanned');
});

t.test('a store opened with another data key cannot read what was written', async (t) => {
  const sut = await openFresh();
  t.teardown(() => rm(sut.dir, { recursive: true, force: true }));
  const raw = makeRaw({ body: 'secret bytes' });
  await sut.store.putRaw(raw);
  await sut.store.close();
  const other = await LmdbStore.open({ path: sut.dir, cipher: new AtRestCipher(sodium, sodium.randombytes_buf(32)) });
  t.teardown(() => other.close());
  await t.rejects(other.getRaw(raw.id), { code: 'PSL_STORE_CORRUPT' });
  t.match(await other.getRawMeta(raw.id), { id: raw.id, sha256: raw.sha256 }, 'metadata stays readable');
});

t.test('a closed store refuses work with PSL_SHUTTING_DOWN', async (t) => {
  const sut = await openFresh();
  t.teardown(() => sut.cleanup());
  await sut.store.close();
  await t.rejects(sut.store.putRaw(makeRaw({ body: 'late' })), { code: 'PSL_SHUTTING_DOWN' });
  await t.rejects(sut.store.getRaw('raw_x'), { code: 'PSL_SHUTTING_DOWN' });
});

t.test('findByType: since with an offset compares as UTC; limit 0 is empty; bad since is PSL_BAD_REQUEST', async (t) => {
  const sut = await openFresh();
  t.teardown(() => sut.cleanup());
  const r = await sut.store.putRecord(makeRecord({ resourceType: 'Observation' }));
  const at = new Date((await sut.store.getRecord(r.id))?.lastUpdated ?? 0);
  // The same instant written with a +02:00 offset sorts after it as a string, yet must still match.
  const local = new Date(at.getTime() + 2 * 3600_000).toISOString().replace('Z', '+02:00');
  t.same((await sut.store.findByType('Observation', { since: local })).map((x) => x.id), [r.id]);
  t.same(await sut.store.findByType('Observation', { limit: 0 }), []);
  await t.rejects(sut.store.findByType('Observation', { since: 'yesterday' }), { code: 'PSL_BAD_REQUEST' });
});

t.test('every putRaw acknowledged before a SIGKILL is there after reopening', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'passerelle-lmdb-crash-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, PASSERELLE_LMDB_CRASH_DIR: dir, PASSERELLE_LMDB_CRASH_KEY: Buffer.from(dataKey).toString('hex') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, sig) => resolve(sig)));
  t.equal(signal, 'SIGKILL', 'the child died by SIGKILL');
  const acks = [...out.matchAll(/^acked (\S+) (\d+)$/gm)].map((m) => ({ id: m[1] ?? '', i: Number(m[2]) }));
  t.ok(acks.length >= CRASH_ACKS, `at least ${CRASH_ACKS} acks before the kill`);

  const store = await LmdbStore.open({ path: dir, cipher });
  t.teardown(() => store.close());
  let intact = 0;
  for (const { id, i } of acks) {
    const raw = await store.getRaw(id);
    if (raw && Buffer.from(raw.body).toString() === `crash-body-${i}`) intact++;
  }
  t.equal(intact, acks.length, 'every acknowledged raw is readable with its bytes');
  const first = acks[0];
  if (!first) throw new Error('no acks');
  const again = await store.putRaw(makeRaw({ body: `crash-body-${first.i}` }));
  t.same(again, { status: 'duplicate', rawId: first.id }, 'dedupe index recovered too');
  t.equal((await store.putRaw(makeRaw({ body: 'after the crash' }))).status, 'stored', 'the store takes writes again');
});
