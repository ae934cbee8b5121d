import type { Test } from 'tap';
import type { Identifier, QueueItem, RecordInput } from '../../gateway/core/types.js';
import { makeRecord, type OpenStore, type StoreUnderTest } from './store.conformance.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const item = (id: string): QueueItem => ({ id, payload: { rawId: id } });
const mrn = (value: string): Identifier => ({ system: 'urn:oid:1.2.250.1.71.4.2.7', value });
const patient = (value: string, extra: Record<string, unknown> = {}): RecordInput =>
  makeRecord({ identifiers: [mrn(value)], extra });

/**
 * Store.claimBatch and Store.commitBatch, the normalize worker's two store operations, run the
 * same way on every Store (sequential subtests, each on a fresh store).
 * @param t - parent tap test
 * @param name - implementation name shown in the output
 * @param open - opens a fresh, empty store for one subtest
 */
export async function batchConformance(t: Test, name: string, open: OpenStore): Promise<void> {
  const cases: Array<[string, (t: Test, sut: StoreUnderTest) => Promise<void>]> = [];
  const withStore = (title: string, body: (t: Test, sut: StoreUnderTest) => Promise<void>): void => {
    cases.push([title, body]);
  };

  withStore('claimBatch: up to max items in queue order; one applier at a time; release', async (t, { store }) => {
    for (const id of ['a', 'b', 'c', 'd', 'e']) await store.enqueue('q', item(id));
    const first = await store.claimBatch('q', { max: 3, leaseMs: 10_000, applier: 'one' });
    t.same(first.map((l) => l.item.id), ['a', 'b', 'c'], 'the three oldest, oldest first');
    t.equal(new Set(first.map((l) => l.token)).size, 3, 'a token per lease');
    t.same(await store.claimBatch('q', { max: 3, leaseMs: 10_000, applier: 'two' }), [], 'another applier gets nothing while the first holds the queue');
    t.same((await store.claimBatch('q', { max: 3, leaseMs: 10_000, applier: 'one' })).map((l) => l.item.id), ['d', 'e'], 'the holder claims on');
    await store.claimBatch('q', { max: 0, leaseMs: 0, applier: 'one' });
    await store.enqueue('q', item('f'));
    t.same((await store.claimBatch('q', { max: 3, leaseMs: 10_000, applier: 'two' })).map((l) => l.item.id), ['f'], 'released: the other applier takes over');
  });

  withStore('claimBatch: expired leases come back first, before items queued during the lease', async (t, { store }) => {
    await store.enqueue('q', item('old-1'));
    await store.enqueue('q', item('old-2'));
    const crashed = await store.claimBatch('q', { max: 10, leaseMs: 150, applier: 'crashed' });
    t.equal(crashed.length, 2);
    await store.enqueue('q', item('new-1'));
    await sleep(250);
    const next = await store.claimBatch('q', { max: 10, leaseMs: 10_000, applier: 'restarted' });
    t.same(next.map((l) => l.item.id), ['old-1', 'old-2', 'new-1'], 'arrival order survives the crash');
    t.same(next.slice(0, 2).map((l) => l.attempt), [2, 2], 'the expired ones count a second attempt');
  });

  withStore('commitBatch: records and completions commit together; later writes see earlier ones', async (t, { store }) => {
    for (const id of ['m1', 'm2']) await store.enqueue('q', item(id));
    const leases = await store.claimBatch('q', { max: 10, leaseMs: 10_000, applier: 'w' });
    const { result, lost } = await store.commitBatch(leases, (txn, held) => {
      t.equal(held.length, 2, 'both leases held');
      const created = txn.putRecord(patient('MRN-B1', { gender: 'female' }));
      const updated = txn.putRecord(patient('MRN-B1', { gender: 'other' }));
      const again = txn.putRecord(patient('MRN-B1', { gender: 'other' }));
      return { created, updated, again };
    });
    t.same(lost, []);
    t.match(result.created, { status: 'created', version: 1 });
    t.match(result.updated, { status: 'updated', id: result.created.id, version: 2 }, 'the second write of the batch matched the record the first created');
    t.match(result.again, { status: 'unchanged', version: 2 });
    t.equal((await store.getRecord(result.created.id))?.version, 2);
    t.equal((await store.findByIdentifier(mrn('MRN-B1'))).length, 1, 'one record, indexed');
    t.match(await store.queueStats('q'), { depth: 0, inFlight: 0, dead: 0 }, 'both items completed in the same commit');
  });

  withStore('commitBatch: a throw rolls the whole batch back, leases untouched', async (t, { store }) => {
    await store.enqueue('q', item('m1'));
    const leases = await store.claimBatch('q', { max: 10, leaseMs: 10_000, applier: 'w' });
    await t.rejects(store.commitBatch(leases, (txn) => {
      txn.putRecord(patient('MRN-RB'));
      txn.putRecord(patient('MRN-RB2'));
      throw new Error('refused after two writes');
    }));
    t.same([...await store.findByIdentifier(mrn('MRN-RB')), ...await store.findByIdentifier(mrn('MRN-RB2'))], [], 'no write of the failed batch is there');
    t.match(await store.queueStats('q'), { inFlight: 1 }, 'the item is still leased, not completed');
    const ok = await store.commitBatch(leases, (txn) => txn.putRecord(patient('MRN-RB')));
    t.match(ok.result, { status: 'created', version: 1 }, 'the same leases commit afterwards');
  });

  withStore('commitBatch: a lost lease is left out; the others commit', async (t, { store }) => {
    await store.enqueue('q', item('slow'));
    const stale = await store.claimBatch('q', { max: 1, leaseMs: 100, applier: 'w' });
    await sleep(200);
    const taken = await store.claimBatch('q', { max: 1, leaseMs: 10_000, applier: 'w' });
    t.equal(taken[0]?.item.id, 'slow', 'the expired item was claimed again');
    await store.enqueue('q', item('fresh'));
    const fresh = await store.claimBatch('q', { max: 1, leaseMs: 10_000, applier: 'w' });
    const seen: string[] = [];
    const { lost } = await store.commitBatch([...stale, ...fresh], (txn, held) => {
      seen.splice(0, seen.length, ...held.map((l) => l.item.id));
      for (const l of held) txn.putRecord(patient(`MRN-${l.item.id}`));
    });
    t.same(seen, ['fresh'], 'work saw only the held lease');
    t.same(lost.map((l) => l.item.id), ['slow']);
    t.same(await store.findByIdentifier(mrn('MRN-slow')), [], 'nothing written for the lost item');
    t.equal((await store.findByIdentifier(mrn('MRN-fresh'))).length, 1);
    await store.complete(taken[0]!);
    t.match(await store.queueStats('q'), { depth: 0, inFlight: 0 });
  });

  withStore('commitBatch: notOnto turns a match on a record of the same message into a same-message conflict', async (t, { store }) => {
    const { result } = await store.commitBatch([], (txn) => {
      const first = txn.putRecord(patient('MRN-SM'));
      const second = txn.putRecord(patient('MRN-SM', { gender: 'male' }), { notOnto: new Set([first.id]) });
      return { first, second };
    });
    t.match(result.second, { status: 'created', version: 1, conflict: { existingIds: [result.first.id], reason: 'same-message' } });
    t.not(result.second.id, result.first.id, 'two records, not one merged');
    t.equal((await store.getRecord(result.first.id))?.version, 1, 'the first is untouched');
    t.match(await store.identityConflicts({ status: 'open' }), [{ reason: 'same-message', recordId: result.second.id }], 'the conflict is stored with the batch');
  });

  withStore('onMatch keep (conditional create): concurrent creates of one identity give one record, left as first written', async (t, { store }) => {
    const keep = (n: number): RecordInput => ({ ...patient('MRN-KEEP', { n }), onMatch: 'keep' });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.commitBatch([], (txn) => txn.putRecord(keep(i)))));
    const ids = new Set(results.map((r) => r.result.id));
    t.equal(ids.size, 1, 'every create answered with the one record');
    t.same(results.map((r) => r.result.status).sort(), ['created', ...Array<string>(7).fill('unchanged')]);
    const found = await store.findByIdentifier(mrn('MRN-KEEP'));
    t.equal(found.length, 1, 'one record holds the identifier');
    t.equal(found[0]?.version, 1, 'the existing record is not updated');
    const { result: same } = await store.commitBatch([], (txn) => [txn.putRecord(keep(100)), txn.putRecord(keep(101))]);
    t.same(same.map((r) => [r.status, r.id]), [['unchanged', found[0]!.id], ['unchanged', found[0]!.id]], 'within one batch too');
  });

  withStore('ifVersion (If-Match): an update on a version that is no longer the latest writes nothing', async (t, { store }) => {
    const base = await store.putRecord(patient('MRN-IFM'));
    const update = (n: number): RecordInput => ({ ...patient('MRN-IFM', { n }), id: base.id, ifVersion: 1 });
    const results = await Promise.all([0, 1, 2].map((n) => store.commitBatch([], (txn) => txn.putRecord(update(n)))));
    t.same(results.map((r) => r.result.status).sort(), ['unchanged', 'unchanged', 'updated'], 'one of three racing updates of version 1 wins');
    t.same(results.filter((r) => r.result.stale).map((r) => r.result.version), [2, 2], 'the others are told the latest version');
    t.equal((await store.getRecord(base.id))?.version, 2);
  });

  withStore('commitBatch: concurrent batches on one record serialise (no lost update)', async (t, { store }) => {
    const base = await store.putRecord(patient('MRN-CC'));
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      store.commitBatch([], (txn) => txn.putRecord(patient('MRN-CC', { n: i })))));
    const versions = results.map((r) => r.result.version).sort((a, b) => a - b);
    t.same(versions, [2, 3, 4, 5, 6, 7, 8, 9], 'each batch wrote its own version on top of the previous one');
    t.ok(results.every((r) => r.result.id === base.id), 'all on the one record');
  });

  withStore('commitBatch: a record another writer commits while the batch is prepared is matched, not duplicated', async (t, { store }) => {
    let runs = 0;
    let other: Promise<unknown> | undefined;
    const { result } = await store.commitBatch([], (txn) => {
      // Work may run more than once (a store plans outside its transaction); the other write starts once.
      if (runs++ === 0) other = store.putRecord(patient('MRN-RACE', { gender: 'male' }));
      return txn.putRecord(patient('MRN-RACE', { gender: 'female' }));
    });
    const otherResult = await other;
    const found = await store.findByIdentifier(mrn('MRN-RACE'));
    t.equal(found.length, 1, 'one record holds the identifier');
    t.equal(found[0]?.version, 2, 'the later write is a version on top of the earlier one');
    t.match([result, otherResult].map((r) => (r as { status: string }).status).sort(), ['created', 'updated']);
  });

  for (const [title, body] of cases) {
    await t.test(`${name}: ${title}`, async (t) => {
      const sut = await open();
      t.teardown(() => sut.cleanup());
      await body(t, sut);
    });
  }
}
