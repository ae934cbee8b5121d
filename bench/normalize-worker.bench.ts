/**
 * The normalize worker end to end on LmdbStore (claim → getRaw → normalize → records → outcome →
 * complete, fsync on every commit), over the Microsoft FHIR-Converter corpus messages, against a
 * baseline in the same run: the same normalized records written one putRecord at a time (one
 * commit each, what a naive in-order writer costs). Commits, not CPU, bound this path. The baseline
 * does less durable work per message (no claim, complete or outcome commit: ~6.4 commits per message
 * for the worker with 1 loop vs ~10.6 for the baseline, but commits that change nothing are cheap),
 * so it is a floor for "records written in order", not an equal-work comparison.
 *
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/normalize-worker.bench.js
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hl7v2Normalizer } from '../adapters/hl7v2/normalize/index.js';
import { newId, sha256Hex } from '../gateway/core/ids.js';
import type { RawMessage } from '../gateway/core/types.js';
import { loadSodium } from '../protocol/crypto/sodium.js';
import { createLogger } from '../gateway/log.js';
import { NormalizationEventBus } from '../gateway/pipeline/normalization-events.js';
import { NORMALIZE_QUEUE, NormalizeWorker } from '../gateway/pipeline/normalize-worker.js';
import { rewriteLocalReferences } from '../gateway/pipeline/reference-rewrite.js';
import { AtRestCipher } from '../gateway/store/at-rest.js';
import { LmdbStore } from '../gateway/store/lmdb-store.js';

const DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'corpus', 'hl7v2-to-fhir', 'microsoft-fhir-converter');
const COUNT = Number(process.env.BENCH_MESSAGES ?? 300);
const bodies = readdirSync(DIR).filter((f) => f.endsWith('.hl7')).sort().map((f) => readFileSync(join(DIR, f)));
const sodium = await loadSodium();
const cipher = new AtRestCipher(sodium, sodium.randombytes_buf(32));

/** COUNT distinct raws (a trailing Z-segment makes each unique), stored and queued. */
async function seed(store: LmdbStore): Promise<RawMessage[]> {
  const raws: RawMessage[] = [];
  for (let i = 0; i < COUNT; i++) {
    const body = Buffer.concat([bodies[i % bodies.length]!, Buffer.from(`\rZBN|${i}\r`)]);
    const raw: RawMessage = { id: newId('raw'), feed: 'bench', participant: 'bench', format: 'hl7v2', receivedAt: new Date(), body, sha256: sha256Hex(body) };
    await store.putRaw(raw);
    raws.push(raw);
  }
  return raws;
}

async function withStore<T>(fn: (store: LmdbStore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'passerelle-bench-norm-'));
  const store = await LmdbStore.open({ path: dir, cipher });
  try {
    return await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Baseline: normalize, then one awaited putRecord per record, in message order. */
async function baseline(): Promise<{ secs: number; records: number }> {
  return withStore(async (store) => {
    const raws = await seed(store);
    let records = 0;
    const t0 = process.hrtime.bigint();
    for (const raw of raws) {
      const out = hl7v2Normalizer.normalize(raw);
      if (!out.ok) continue;
      const ids = new Map<string, string>();
      for (const r of out.records) {
        const { localRef: _l, patientRef: _p, ...input } = r;
        const res = await store.putRecord({ ...input, resource: rewriteLocalReferences(r.resource, (ref) => ids.get(ref)).resource });
        ids.set(r.localRef, `${r.resourceType}/${res.id}`);
        records++;
      }
    }
    return { secs: Number(process.hrtime.bigint() - t0) / 1e9, records };
  });
}

async function worker(batchSize: number): Promise<{ secs: number; records: number }> {
  return withStore(async (store) => {
    const raws = await seed(store);
    for (const raw of raws) await store.enqueue(NORMALIZE_QUEUE, { id: raw.id, payload: { rawId: raw.id } });
    const events = new NormalizationEventBus();
    let done = 0;
    let records = 0;
    const finished = new Promise<void>((resolveAll) => events.subscribe((o) => {
      records += o.recordIds.length;
      if (++done === raws.length) resolveAll();
    }));
    const w = new NormalizeWorker({ store, events, batchSize, idleMs: 5, normalizers: new Map([['hl7v2', hl7v2Normalizer]]), log: createLogger({ level: 'silent' }) });
    const t0 = process.hrtime.bigint();
    w.start();
    await finished;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    await w.stop();
    return { secs, records };
  });
}

console.log(`${COUNT} messages per row (${bodies.length} corpus messages cycled), LmdbStore with fsync per commit`);
const rows: Array<{ case: string; secs: number; records: number }> = [{ case: 'baseline: normalize + one putRecord per record (no queue, no outcome)', ...(await baseline()) }];
for (const b of [1, 20, 200]) rows.push({ case: `NormalizeWorker, batches of ${b} (records, outcomes, completions: one commit per batch)`, ...(await worker(b)) });
const base = COUNT / rows[0]!.secs;
console.table(rows.map((r) => ({
  case: r.case, 'msg/s': Math.round(COUNT / r.secs), 'records/s': Math.round(r.records / r.secs), 'vs baseline': `${(COUNT / r.secs / base).toFixed(2)}×`,
})));
