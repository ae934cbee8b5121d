import t from 'tap';
import type { Store } from '../../../../gateway/core/ports.js';
import { GatewayError, type ErrorCode } from '../../../../protocol/errors.js';
import { NORMALIZE_QUEUE } from '../../../../gateway/pipeline/normalize-worker.js';
import { writeRecords } from '../../../../gateway/pipeline/record-writer.js';
import { writeOutcome } from '../../../../gateway/pipeline/normalization-outcome.js';
import { fakeNormalizer, fakeRaw, makeWorker, openTempStore, submit } from './worker-fixture.js';

/**
 * The real store with commitBatch (or claimBatch) failing the next `failures` calls: fault injection in
 * front of a real LmdbStore (every other call, and every call after the faults, reaches LMDB).
 */
function faulty(store: Store, code: ErrorCode, failures: number, op: 'commitBatch' | 'claimBatch' = 'commitBatch'): { store: Store; calls: () => number } {
  let calls = 0;
  const wrapped = new Proxy(store, {
    get(target, prop) {
      if (prop === op) {
        return (...args: unknown[]) => {
          calls++;
          if (failures-- > 0) return Promise.reject(new GatewayError(code, 'injected fault'));
          return (target[op] as (...a: unknown[]) => Promise<unknown>)(...args);
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store: wrapped, calls: () => calls };
}

t.test('store failures retry with backoff and then succeed', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const { store } = faulty(sut.store, 'PSL_STORE_UNAVAILABLE', 3);
  const { worker, events, logs } = makeWorker(store, { maxAttempts: 5 });
  const raw = fakeRaw({ mrn: 'MRN-R1', obs: ['1'] });
  const outcome = events.waitFor(raw.id);
  await submit(sut.store, raw);
  worker.start();
  t.teardown(() => worker.stop());
  const o = await outcome;
  t.equal(o.ok, true, 'normalized on the 4th attempt');
  const retries = logs.lines.filter((l) => l.includes('"normalize failed, will retry"')).map((l) => JSON.parse(l) as { attempt: number; retryInMs: number; code: string });
  t.same(retries.map((r) => [r.attempt, r.retryInMs, r.code]), [[1, 5, 'PSL_STORE_UNAVAILABLE'], [2, 10, 'PSL_STORE_UNAVAILABLE'], [3, 20, 'PSL_STORE_UNAVAILABLE']],
    'exponential backoff 5, 10, 20 ms (capped at maxMs)');
  t.equal((await sut.store.findByType('Patient')).length, 1, 'one Patient despite the retries');
  t.same(await sut.store.queueStats(NORMALIZE_QUEUE).then((s) => [s.depth, s.inFlight, s.dead]), [0, 0, 0]);
});

t.test('claim failures back off (idle × 2^n) and the loop recovers', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const { store } = faulty(sut.store, 'PSL_STORE_UNAVAILABLE', 3, 'claimBatch');
  const { worker, events, logs } = makeWorker(store, { idleMs: 5, backoff: { baseMs: 5, maxMs: 15 } });
  const raw = fakeRaw({ mrn: 'MRN-R0' });
  const outcome = events.waitFor(raw.id);
  await submit(sut.store, raw);
  worker.start();
  t.teardown(() => worker.stop());
  t.equal((await outcome).ok, true, 'normalized once the store answers again');
  const waits = logs.lines.filter((l) => l.includes('"normalize claim failed"')).map((l) => (JSON.parse(l) as { retryInMs: number }).retryInMs);
  t.same(waits, [5, 10, 15], 'backoff grows and is capped at maxMs');
});

t.test('after maxAttempts the item is dead-lettered and a fatal outcome published', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const { store, calls } = faulty(sut.store, 'PSL_STORE_UNAVAILABLE', 1000);
  const { worker, events } = makeWorker(store, { maxAttempts: 3 });
  const raw = fakeRaw({ mrn: 'MRN-R2' });
  const outcome = events.waitFor(raw.id);
  await submit(sut.store, raw);
  worker.start();
  t.teardown(() => worker.stop());
  const o = await outcome;
  t.match(o, { ok: false, recordIds: [], issues: [{ severity: 'fatal', code: 'exception', where: 'store' }] });
  t.equal(calls(), 3, 'three attempts');
  t.match(await sut.store.deadLetters(NORMALIZE_QUEUE), [{ item: { id: raw.id }, reason: 'PSL_STORE_UNAVAILABLE', attempt: 3 }]);
  t.ok(await sut.store.getRaw(raw.id), 'the raw is kept');
});

t.test('a non-retryable store error dead-letters at once', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const { store, calls } = faulty(sut.store, 'PSL_STORE_CORRUPT', 1000);
  const { worker, events } = makeWorker(store, { maxAttempts: 5 });
  const raw = fakeRaw({ mrn: 'MRN-R3' });
  const outcome = events.waitFor(raw.id);
  await submit(sut.store, raw);
  worker.start();
  t.teardown(() => worker.stop());
  t.equal((await outcome).ok, false);
  t.equal(calls(), 1, 'no retry');
  t.match(await sut.store.deadLetters(NORMALIZE_QUEUE), [{ reason: 'PSL_STORE_CORRUPT', attempt: 1 }]);
});

t.test('a queued id with no raw is dead-lettered, not retried', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const { worker, events } = makeWorker(sut.store);
  const outcome = events.waitFor('raw_missing');
  await sut.store.enqueue(NORMALIZE_QUEUE, { id: 'raw_missing', payload: { rawId: 'raw_missing' } });
  worker.start();
  t.teardown(() => worker.stop());
  t.match(await outcome, { ok: false, issues: [{ code: 'not-found' }] });
  t.match(await sut.store.deadLetters(NORMALIZE_QUEUE), [{ item: { id: 'raw_missing' }, reason: 'PSL_NOT_FOUND' }]);
});

t.test('crash after the records are stored but before complete: the replay creates no duplicates', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const raws = [fakeRaw({ mrn: 'MRN-K1', obs: ['a', 'b', 'c'] }), fakeRaw({ mrn: 'MRN-K2', obs: ['d'] })];
  for (const raw of raws) await submit(sut.store, raw);

  // First life: claim with a short lease, store the records exactly as the worker does, then "crash".
  const firstIds: string[][] = [];
  for (let i = 0; i < raws.length; i++) {
    const lease = await sut.store.claim(NORMALIZE_QUEUE, 50);
    t.ok(lease, 'claimed');
    const raw = await sut.store.getRaw(lease!.item.id);
    const normalized = fakeNormalizer.normalize(raw!);
    if (!normalized.ok) throw new Error('fixture must normalize');
    const written = await writeRecords(sut.store, raw!, fakeNormalizer.name, normalized.records);
    firstIds.push(written.records.map((r) => r.id));
  }
  const before = { patients: (await sut.store.findByType('Patient')).length, observations: (await sut.store.findByType('Observation')).length, encounters: (await sut.store.findByType('Encounter')).length };
  t.same(before, { patients: 2, observations: 4, encounters: 2 }, 'records stored, items never completed');

  // Second life: same files, the leases expire, the worker re-normalizes both items.
  const store = await sut.reopen();
  t.equal((await store.queueStats(NORMALIZE_QUEUE)).dead, 0);
  const { worker, events } = makeWorker(store);
  const outcomes = raws.map((r) => events.waitFor(r.id));
  worker.start();
  t.teardown(() => worker.stop());
  const replayed = await Promise.all(outcomes);

  t.same(replayed.map((o) => o.recordIds), firstIds, 'the replay resolved to the very same record ids, in order');
  t.same({
    patients: (await store.findByType('Patient')).length,
    observations: (await store.findByType('Observation')).length,
    encounters: (await store.findByType('Encounter')).length,
  }, before, 'no duplicate record');
  for (const id of firstIds.flat()) t.equal((await store.getRecord(id))?.version, 1, 'unchanged: still version 1');
  t.same(await store.queueStats(NORMALIZE_QUEUE).then((s) => [s.depth, s.inFlight, s.dead]), [0, 0, 0], 'both items completed');
});

t.test('crash after the outcome is written: the replay completes the item without normalizing again', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const raw = fakeRaw({ mrn: 'MRN-K3', obs: ['a'] });
  await submit(sut.store, raw);
  const lease = await sut.store.claim(NORMALIZE_QUEUE, 50);
  const normalized = fakeNormalizer.normalize(raw);
  if (!normalized.ok) throw new Error('fixture must normalize');
  const written = await writeRecords(sut.store, raw, fakeNormalizer.name, normalized.records);
  const recordIds = written.records.map((r) => r.id);
  await writeOutcome(sut.store, raw, fakeNormalizer.name, { rawId: raw.id, ok: true, issues: normalized.issues, recordIds });
  t.ok(lease, 'claimed, never completed');

  const store = await sut.reopen();
  const { worker, events, logs } = makeWorker(store);
  const outcome = events.waitFor(raw.id);
  const calls = fakeNormalizer.calls;
  worker.start();
  t.teardown(() => worker.stop());
  const o = await outcome;
  t.same(o, { rawId: raw.id, ok: true, issues: normalized.issues, recordIds }, 'the stored outcome is published again');
  t.equal(fakeNormalizer.calls, calls, 'the normalizer was not called');
  t.ok(logs.lines.some((l) => l.includes('"raw already normalized"')));
  t.same(await store.queueStats(NORMALIZE_QUEUE).then((s) => [s.depth, s.inFlight]), [0, 0], 'item completed');
});

t.test('a retransmitted message re-queued after a later update does not revert the record', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const { worker, events } = makeWorker(sut.store);
  worker.start();
  t.teardown(() => worker.stop());
  const older = fakeRaw({ mrn: 'MRN-D1', family: 'OLD' });
  const newer = fakeRaw({ mrn: 'MRN-D1', family: 'NEW' });
  const run = async (rawId: string, enqueueOnly = false): Promise<string> => {
    const o = events.waitFor(rawId);
    if (enqueueOnly) await sut.store.enqueue(NORMALIZE_QUEUE, { id: rawId, payload: { rawId } });
    else await submit(sut.store, rawId === older.id ? older : newer);
    worker.notify();
    return (await o).recordIds[0]!;
  };
  const patientId = await run(older.id);
  await run(newer.id);
  t.equal(await run(older.id, true), patientId, 'the re-queued original answers with its records');
  const patient = await sut.store.getRecord(patientId);
  t.equal(patient?.version, 2, 'no third version');
  t.same(patient?.resource.name, [{ family: 'NEW' }], 'the newer content stays');
});
