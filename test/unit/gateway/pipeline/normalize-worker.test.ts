import t from 'tap';
import type { NormalizationOutcome } from '../../../../gateway/core/ports.js';
import { NORMALIZE_QUEUE } from '../../../../gateway/pipeline/normalize-worker.js';
import { OUTCOME_SYSTEM } from '../../../../gateway/pipeline/normalization-outcome.js';
import { fakeNormalizer, fakeRaw, makeWorker, openTempStore, submit } from './worker-fixture.js';

t.test('stores records in order, rewrites every local reference and sets patientId', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const { worker, events, logs } = makeWorker(sut.store);
  const raw = fakeRaw({ mrn: 'MRN-ZEPHYRINE', family: 'ZEPHYRINE', obs: ['718-7', '4548-4'] });
  const outcome = events.waitFor(raw.id);
  await submit(sut.store, raw);
  worker.start();
  t.teardown(() => worker.stop());
  const o = await outcome;

  t.equal(o.ok, true, 'message normalized');
  t.equal(o.recordIds.length, 4, 'Patient, Encounter, two Observations');
  const [patient, encounter, obs1, obs2] = await Promise.all(o.recordIds.map((id) => sut.store.getRecord(id)));
  t.equal(patient?.resourceType, 'Patient', 'first record is the Patient');
  t.equal(encounter?.resourceType, 'Encounter');
  t.match(encounter?.resource, { subject: { reference: `Patient/${patient?.id}`, display: 'kept' } }, 'reference rewritten, display kept');
  t.equal(encounter?.patientId, patient?.id, 'patientRef became patientId');
  for (const obs of [obs1, obs2]) {
    t.match(obs?.resource, {
      subject: { reference: `Patient/${patient?.id}` },
      encounter: { reference: `Encounter/${encounter?.id}` },
      extension: [{ extension: [{ valueReference: { reference: `Encounter/${encounter?.id}` } }] }],
      derivedFrom: [{ reference: 'Observation/external-1' }],
    }, 'nested local references rewritten, other references untouched');
    t.equal(obs?.patientId, patient?.id);
  }
  t.notMatch(JSON.stringify([patient, encounter, obs1, obs2]), /urn:passerelle:local:/, 'no local reference is stored');
  t.match(obs1?.provenance, { feed: 'lab-oru', participant: 'labo-bioplus', rawId: raw.id, location: 'OBX[1]', mapping: 'fake@1' },
    'provenance feed/participant/rawId come from the raw; mapping defaults to the normalizer name');
  t.same((await sut.store.findByPatient(patient!.id, 'Observation')).map((r) => r.id).sort(), [obs1!.id, obs2!.id].sort(), 'findable by patient');
  t.same(await sut.store.queueStats(NORMALIZE_QUEUE), { depth: 0, inFlight: 0, dead: 0, oldestAgeMs: 0 }, 'item completed');

  t.same(o.issues.map((i) => i.code), ['value'], 'normalizer warnings published');
  const [oo] = await sut.store.findByIdentifier({ system: OUTCOME_SYSTEM, value: raw.id }, 'OperationOutcome');
  t.match(oo?.resource, { resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'value', expression: ['PID-8'] }] }, 'warnings kept as an OperationOutcome of the raw');
  t.equal(oo?.provenance.participant, 'labo-bioplus', 'the outcome is visible to the feed owner');
  const text = logs.lines.join('\n');
  t.ok(logs.lines.some((l) => l.includes('"raw normalized"')), 'a per-message debug line was written');
  t.notOk(text.includes('ZEPHYRINE'), 'no name or identifier in the logs');
});

t.test('a second message for the same patient updates the same Patient', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const { worker, events } = makeWorker(sut.store);
  worker.start();
  t.teardown(() => worker.stop());
  const first = fakeRaw({ mrn: 'MRN-1', family: 'A', obs: ['718-7'] });
  const second = fakeRaw({ mrn: 'MRN-1', family: 'B', obs: ['718-7'] });
  const third = fakeRaw({ mrn: 'MRN-1', family: 'B' });
  const outs: NormalizationOutcome[] = [];
  for (const raw of [first, second, third]) {
    const o = events.waitFor(raw.id);
    await submit(sut.store, raw);
    worker.notify();
    outs.push(await o);
  }
  t.equal(outs[1]?.recordIds[0], outs[0]?.recordIds[0], 'same Patient id');
  t.equal(outs[2]?.recordIds[0], outs[0]?.recordIds[0], 'same Patient id again');
  const patient = await sut.store.getRecord(outs[0]!.recordIds[0]!);
  t.equal(patient?.version, 2, 'changed name → version 2; identical third message → unchanged');
  t.equal((await sut.store.findByType('Patient')).length, 1, 'one Patient in the store');
  t.equal((await sut.store.findByType('Observation')).length, 2, 'one Observation per message (they carry no identifier)');
});

t.test('an unresolvable (forward) local reference is removed and reported', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const { worker, events } = makeWorker(sut.store);
  const raw = fakeRaw({ mrn: 'MRN-2', forward: true });
  const outcome = events.waitFor(raw.id);
  await submit(sut.store, raw);
  worker.start();
  t.teardown(() => worker.stop());
  const o = await outcome;
  t.equal(o.ok, true, 'an error issue does not fail the message');
  t.match(o.issues, [{ code: 'value' }, { severity: 'error', code: 'invariant', where: 'OBX[9]' }]);
  const early = await sut.store.getRecord(o.recordIds[2]!);
  t.same(early?.resource.hasMember, [{ display: 'late one' }], 'reference removed, display kept');
});

t.test('a normalizer that throws or rejects yields a fatal outcome; the raw stays and the worker goes on', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const { worker, events, logs } = makeWorker(sut.store);
  const boom = fakeRaw({ mrn: 'MRN-3', family: 'SECRETNAME', explode: true });
  const rejected = fakeRaw({ mrn: 'MRN-4', reject: true });
  const fine = fakeRaw({ mrn: 'MRN-5' });
  const csv = fakeRaw({ mrn: 'MRN-6' }, 'csv');
  const waits = [boom, rejected, fine, csv].map((r) => events.waitFor(r.id));
  for (const r of [boom, rejected, fine, csv]) await submit(sut.store, r);
  worker.start();
  t.teardown(() => worker.stop());
  const [o1, o2, o3, o4] = await Promise.all(waits);

  t.match(o1, { ok: false, recordIds: [], issues: [{ severity: 'fatal', code: 'exception' }] }, 'a throw becomes an exception issue');
  t.match(o2, { ok: false, recordIds: [], issues: [{ severity: 'fatal', code: 'structure', where: 'PID' }] });
  t.equal(o3?.ok, true, 'the next message is still processed');
  t.match(o4, { ok: false, issues: [{ code: 'not-supported', where: 'format' }] }, 'no normalizer for the format');
  for (const [raw, code] of [[boom, 'exception'], [rejected, 'structure'], [csv, 'not-supported']] as const) {
    t.ok(await sut.store.getRaw(raw.id), 'raw kept');
    const [oo] = await sut.store.findByIdentifier({ system: OUTCOME_SYSTEM, value: raw.id }, 'OperationOutcome');
    t.match(oo?.resource, { issue: [{ severity: 'fatal', code }] }, `outcome retrievable (${code})`);
  }
  t.same(await sut.store.queueStats(NORMALIZE_QUEUE), { depth: 0, inFlight: 0, dead: 0, oldestAgeMs: 0 }, 'data problems are not retried');
  t.notOk(logs.lines.join('\n').includes('SECRETNAME'), 'the thrown message (which carries content) is not logged');
  t.ok(logs.lines.some((l) => l.includes('"errName":"RangeError"')), 'the error class is logged');
});

t.test('notify() wakes an idle worker before its sleep ends', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  // A sleep longer than tap's timeout: only notify() can make this test pass.
  const { worker, events } = makeWorker(sut.store, { idleMs: 10 * 60_000 });
  worker.start();
  t.teardown(() => worker.stop());
  await new Promise((resolve) => setTimeout(resolve, 50)); // let the loop find the queue empty and sleep
  const raw = fakeRaw({ mrn: 'MRN-7' });
  const outcome = events.waitFor(raw.id);
  await submit(sut.store, raw);
  worker.notify();
  t.equal((await outcome).ok, true);
});

t.test('stop() finishes the batch in hand and claims no more', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const { worker, events } = makeWorker(sut.store, { batchSize: 1 });
  const a = fakeRaw({ mrn: 'MRN-8', obs: ['1'] });
  const b = fakeRaw({ mrn: 'MRN-9' });
  await submit(sut.store, a);
  await submit(sut.store, b);
  const seen: string[] = [];
  events.subscribe((o) => seen.push(o.rawId));
  let stopped: Promise<void> | undefined;
  fakeNormalizer.onNormalize = () => {
    stopped ??= worker.stop(); // stop while the first item is being normalized
  };
  t.teardown(() => {
    delete fakeNormalizer.onNormalize;
  });
  worker.start();
  await new Promise<void>((resolve) => {
    const poll = (): void => void (stopped ? stopped.then(resolve) : setTimeout(poll, 5));
    poll();
  });
  t.same(seen, [a.id], 'the item in hand was finished and published');
  t.same(await sut.store.queueStats(NORMALIZE_QUEUE).then((s) => [s.depth, s.inFlight]), [1, 0], 'the other item is still waiting, nothing in flight');
  t.equal((await sut.store.findByType('Observation')).length, 1, 'the finished item\'s records are stored');
});

t.test('two workers on one store: one applier at a time, each item normalized once, in queue order', async (t) => {
  const sut = await openTempStore();
  t.teardown(() => sut.cleanup());
  const first = makeWorker(sut.store, { batchSize: 4 });
  const second = makeWorker(sut.store, { batchSize: 4 });
  const raws = Array.from({ length: 30 }, (_, i) => fakeRaw({ mrn: `MRN-C${i}`, obs: ['x'] }));
  const seen: string[] = [];
  const all = new Promise<void>((resolve) => {
    for (const { events } of [first, second]) {
      events.subscribe((o) => {
        seen.push(o.rawId);
        if (seen.length === raws.length) resolve();
      });
    }
  });
  for (const r of raws) await submit(sut.store, r);
  first.worker.start();
  second.worker.start();
  t.teardown(() => Promise.all([first.worker.stop(), second.worker.stop()]));
  await all;
  t.same(seen, raws.map((r) => r.id), 'every raw exactly once, in the order queued');
  t.equal((await sut.store.findByType('Patient', { limit: 1000 })).length, 30);
  t.equal((await sut.store.findByType('Observation', { limit: 1000 })).length, 30);
});
