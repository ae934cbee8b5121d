import t from 'tap';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSodium } from '../../gateway/crypto/sodium.js';
import { AtRestCipher } from '../../gateway/store/at-rest.js';
import { LmdbStore } from '../../gateway/store/lmdb-store.js';
import { openLmdb } from '../../gateway/store/lmdb-schema.js';
import type { Store } from '../../gateway/core/ports.js';
import { makeRaw, makeRecord, storeConformance, type StoreUnderTest } from './store.conformance.js';

const sodium = await loadSodium();
const cipher = new AtRestCipher(sodium, sodium.randombytes_buf(32));

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

t.test('nothing readable at rest: bodies, resources and identifiers are not in the files', async (t) => {
  const MARKER = 'MARKER-ZEBULON-4711';
  const sut = await openFresh();
  t.teardown(() => sut.cleanup());
  const raw = makeRaw({ body: `MSH|^~\\&|A|B\rPID|1||${MARKER}^^^HOSP||${MARKER}^JEAN` });
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
