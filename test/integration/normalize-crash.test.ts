import t from 'tap';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hl7v2Normalizer } from '../../adapters/hl7v2/normalize/index.js';
import type { RecordTxn, Store } from '../../gateway/core/ports.js';
import { loadSodium } from '../../protocol/crypto/sodium.js';
import { createLogger } from '../../gateway/log.js';
import { NORMALIZE_QUEUE, NormalizeWorker } from '../../gateway/pipeline/normalize-worker.js';
import { OUTCOME_SYSTEM } from '../../gateway/pipeline/normalization-outcome.js';
import { AtRestCipher } from '../../gateway/store/at-rest.js';
import { LmdbStore } from '../../gateway/store/lmdb-store.js';
import { RedisStore } from '../../gateway/store/redis-store.js';
import { makeRaw } from '../contract/store.conformance.js';
import { cleanPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { adt } from './mllp-support.js';

/**
 * SIGKILL in the middle of a batch commit: the batch is applied whole or not at all, and after a
 * restart every message is normalized exactly once. The child half is this file re-run with
 * CRASH_ENV set: it runs the real worker (batches of 50) and kills itself during the 10th record
 * write of its second batch.
 */
const CRASH_ENV = 'PASSERELLE_NORMALIZE_CRASH';
const MESSAGES = 90;
const BATCH = 30;
const LEASE_MS = 400;

interface Target {
  kind: 'lmdb' | 'redis';
  where: string;
  keyHex: string;
}

const sodium = await loadSodium();

async function openStore(target: Target): Promise<Store> {
  const cipher = new AtRestCipher(sodium, Buffer.from(target.keyHex, 'hex'));
  return target.kind === 'lmdb'
    ? LmdbStore.open({ path: target.where, cipher })
    : RedisStore.open({ url: REDIS_URL, prefix: target.where, cipher, durability: 'none' });
}

/** The store with a kill switch while the second batch's records are written (LMDB: while its plan is made). */
function killingInSecondBatch(store: Store): Store {
  let batches = 0;
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'commitBatch') {
        return <T>(leases: Parameters<Store['commitBatch']>[0], work: (txn: RecordTxn, held: Parameters<Store['commitBatch']>[0]) => T) => {
          const batch = ++batches;
          let puts = 0;
          return target.commitBatch(leases, (txn, held) => work({
            putRecord(input, options) {
              if (batch === 2 && ++puts === 10) process.kill(process.pid, 'SIGKILL');
              return txn.putRecord(input, options);
            },
          }, held));
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

function worker(store: Store): NormalizeWorker {
  return new NormalizeWorker({
    store, batchSize: BATCH, leaseMs: LEASE_MS, idleMs: 20,
    normalizers: new Map([['hl7v2', hl7v2Normalizer]]), log: createLogger({ level: 'silent' }),
  });
}

if (process.env[CRASH_ENV] !== undefined) {
  const store = await openStore(JSON.parse(process.env[CRASH_ENV]) as Target);
  worker(killingInSecondBatch(store)).start();
  await new Promise(() => undefined); // the kill switch ends this process
}

async function outcomes(store: Store): Promise<number> {
  return (await store.findByType('OperationOutcome', { limit: 10_000 })).length;
}

async function crashAndRecover(t: Test, target: Target): Promise<void> {
  const seed = await openStore(target);
  const rawIds = await Promise.all(Array.from({ length: MESSAGES }, async (_, i) => {
    const raw = { ...makeRaw({ feed: 'hospital-adt', body: adt(`CRASH-${i}`, { type: 'ADT^A04^ADT_A01', pid: `CRASH${i}` }) }), participant: 'chu-lyon' };
    return (await seed.putRaw(raw, { enqueue: NORMALIZE_QUEUE })).rawId;
  }));
  await seed.close();

  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, [CRASH_ENV]: JSON.stringify(target) }, stdio: ['ignore', 'ignore', 'inherit'],
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
  t.equal(signal, 'SIGKILL', 'the child died by SIGKILL in its second batch');

  const store = await openStore(target);
  t.teardown(() => store.close());
  t.equal(await outcomes(store), BATCH, 'exactly the first batch is there: the killed batch left nothing behind');
  const patientsBefore = (await store.findByType('Patient', { limit: 10_000 })).length;

  const w = worker(store);
  w.start();
  t.teardown(() => w.stop());
  const deadline = Date.now() + 60_000;
  while ((await outcomes(store)) < MESSAGES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

  const perRaw = await Promise.all(rawIds.map((id) => store.findByIdentifier({ system: OUTCOME_SYSTEM, value: id })));
  t.ok(perRaw.every((o) => o.length === 1), 'every message has exactly one outcome');
  t.ok(perRaw.every((o) => o[0]?.version === 1), 'and it was written once');
  const patients = await store.findByType('Patient', { limit: 10_000 });
  t.equal(patientsBefore, BATCH, 'before recovery: the first batch\'s patients only');
  t.equal(patients.length, MESSAGES, 'one Patient per message, no duplicate from the replay');
  t.ok(patients.every((p) => p.version === 1), 'no patient was rewritten by the replay');
  t.match(await store.queueStats(NORMALIZE_QUEUE), { depth: 0, inFlight: 0, dead: 0 }, 'the queue is drained');
}

t.test('LMDB: SIGKILL mid-batch, then recovery', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'passerelle-crash-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await crashAndRecover(t, { kind: 'lmdb', where: dir, keyHex: Buffer.from(sodium.randombytes_buf(32)).toString('hex') });
});

t.test('Redis: SIGKILL mid-batch, then recovery', async (t) => {
  const prefix = testPrefix('normalize-crash');
  t.teardown(() => cleanPrefix(prefix));
  await crashAndRecover(t, { kind: 'redis', where: prefix, keyHex: Buffer.from(sodium.randombytes_buf(32)).toString('hex') });
});
