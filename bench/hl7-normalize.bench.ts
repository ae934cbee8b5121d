/**
 * HL7 v2 normalization throughput on one core, over the Microsoft FHIR-Converter corpus messages
 * (each has an expected Bundle), in one run:
 *   - floor A: JSON.parse of the expected Bundle bytes (their output for the same message; the
 *     STYLE.md baseline, though those Bundles are 10-30× larger than the HL7 input);
 *   - floor B: JSON.parse of our own records serialized (the same information as our output);
 *   - parseHl7 only (the parse share of normalize);
 *   - hl7v2Normalizer.normalize (parse + map + issues);
 *   - normalize + local-reference resolution, as the worker does before putRecord (no store).
 * Single-threaded, so msg/s is per core. Store writes are measured in store-lmdb.bench.
 *
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/hl7-normalize.bench.js
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHl7 } from '../adapters/hl7v2/parse.js';
import { hl7v2Normalizer } from '../adapters/hl7v2/normalize/index.js';
import type { RawMessage } from '../gateway/core/types.js';
import { sha256Hex } from '../gateway/core/ids.js';
import { rewriteLocalReferences } from '../gateway/pipeline/reference-rewrite.js';
import { percentile } from './lib/stats.js';

/** dist/bench/ → repo root → ../shared/corpus */
const DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'corpus', 'hl7v2-to-fhir', 'microsoft-fhir-converter');

interface Case { raw: RawMessage; expected: Buffer; ours: Buffer }
interface Row { name: string; msgPerSec: number; inMBps: number; p50us: number; p99us: number }

let sink = 0;

function loadCases(): Case[] {
  const names = readdirSync(DIR).filter((f) => f.endsWith('.hl7')).sort();
  if (names.length === 0) throw new Error(`no corpus under ${DIR}`);
  return names.map((name, i) => {
    const body = readFileSync(join(DIR, name));
    const raw: RawMessage = {
      id: `raw_bench_${i}`, feed: 'bench', participant: 'bench', format: 'hl7v2', receivedAt: new Date(0), body, sha256: sha256Hex(body),
    };
    const out = hl7v2Normalizer.normalize(raw);
    const ours = Buffer.from(JSON.stringify(out.ok ? out.records : out.issues));
    return { raw, expected: readFileSync(join(DIR, name.replace(/\.hl7$/, '-expected.json'))), ours };
  });
}

function normalizeAndLink(c: Case): void {
  const out = hl7v2Normalizer.normalize(c.raw);
  if (!out.ok) {
    sink += out.issues.length;
    return;
  }
  const targets = new Map<string, string>();
  for (const r of out.records) {
    const linked = rewriteLocalReferences(r.resource, (ref) => targets.get(ref));
    targets.set(r.localRef, `${r.resourceType}/${r.localRef}`);
    sink += linked.unresolved.length + 1;
  }
}

function measure(name: string, cases: readonly Case[], op: (c: Case) => void, seconds: number): Row {
  for (let i = 0; i < 5; i++) for (const c of cases) op(c); // warm-up: let V8 optimise
  const inBytes = cases.reduce((n, c) => n + c.raw.body.length, 0);
  const lat: number[] = [];
  let rounds = 0;
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(Math.round(seconds * 1e9));
  let now = t0;
  while (now < deadline) {
    for (const c of cases) {
      const s = process.hrtime.bigint();
      op(c);
      now = process.hrtime.bigint();
      lat.push(Number(now - s) / 1e3);
    }
    rounds++;
  }
  const secs = Number(now - t0) / 1e9;
  const sorted = Float64Array.from(lat).sort();
  return { name, msgPerSec: (rounds * cases.length) / secs, inMBps: (rounds * inBytes) / secs / 1e6, p50us: percentile(sorted, 0.5), p99us: percentile(sorted, 0.99) };
}

const cases = loadCases();
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const mb = (n: number): string => (n / 1e6).toFixed(2);
const okCount = cases.filter((c) => hl7v2Normalizer.normalize(c.raw).ok).length;
console.log(`${cases.length} messages (${okCount} normalized ok by ${hl7v2Normalizer.name}); per round: HL7 ${mb(cases.reduce((n, c) => n + c.raw.body.length, 0))} MB, `
  + `expected JSON ${mb(cases.reduce((n, c) => n + c.expected.length, 0))} MB, our records as JSON ${mb(cases.reduce((n, c) => n + c.ours.length, 0))} MB; ${seconds}s per row; one core`);

const rows = [
  measure('floor A: JSON.parse(expected Bundle bytes)', cases, (c) => { sink += (JSON.parse(c.expected.toString('utf8')) as unknown[]) ? 1 : 0; }, seconds),
  measure('floor B: JSON.parse(our records as JSON)', cases, (c) => { sink += (JSON.parse(c.ours.toString('utf8')) as unknown[]).length; }, seconds),
  measure('parseHl7 only', cases, (c) => { sink += parseHl7(c.raw.body).ok ? 1 : 0; }, seconds),
  measure('hl7v2Normalizer.normalize', cases, (c) => { sink += hl7v2Normalizer.normalize(c.raw).issues.length + 1; }, seconds),
  measure('normalize + local-ref resolution (worker, no store)', cases, normalizeAndLink, seconds),
];
const floorB = rows[1]!.msgPerSec;
console.table(rows.map((r) => ({
  case: r.name, 'msg/s': Math.round(r.msgPerSec), 'HL7 MB/s': r.inMBps.toFixed(1),
  'p50 µs': r.p50us.toFixed(1), 'p99 µs': r.p99us.toFixed(1), 'vs floor B': `${(r.msgPerSec / floorB).toFixed(2)}×`,
})));
const parseShare = rows[3]!.msgPerSec > 0 ? (1 / rows[2]!.msgPerSec) / (1 / rows[3]!.msgPerSec) : 0;
console.log(`parse share of normalize time: ${(parseShare * 100).toFixed(0)}%`);
if (sink === 0) console.log('sink empty');
