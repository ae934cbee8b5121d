/**
 * Durable LmdbStore.putRaw against its raw floor: a bare lmdb-js put of the same bytes in an
 * environment opened with the same sync settings (openLmdb: overlappingSync off, sync on).
 * Sequential (one put in flight) and 64 concurrent (group commit). Every op is timed from call
 * to resolved promise, i.e. until the data is fsynced.
 *
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/store-lmdb.bench.js
 */
import { randomFillSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RawMessage } from '../gateway/core/types.js';
import { newId, sha256Hex } from '../gateway/core/ids.js';
import { loadSodium, type Sodium } from '../gateway/crypto/sodium.js';
import { AtRestCipher } from '../gateway/store/at-rest.js';
import { openLmdb } from '../gateway/store/lmdb-schema.js';
import { LmdbStore } from '../gateway/store/lmdb-store.js';

const WARMUP = 2_000;
const SEQUENTIAL_OPS = 3_000;
const CONCURRENT_OPS = 60_000;
const CONCURRENCY = 64;
const ROUNDS = Number(process.env.ROUNDS ?? 3);

interface Result { name: string; mode: string; opsPerSec: number; p50: number; p99: number }

/** A realistic ~1.1 KB ADT^A01; `n` makes every body (and so its sha256) distinct. */
function body(n: number): Uint8Array {
  const segs = [
    `MSH|^~\\&|SENDAPP|SENDFAC|PASSERELLE|GW|20260101120000||ADT^A01^ADT_A01|CTRL${n}|P|2.5.1`,
    'EVN|A01|20260101120000',
    `PID|1||${100000 + n}^^^HOSP^MR||DOE^JANE^Q||19610615|F|||1 RUE DE LA PAIX^^PARIS^^75001^FRA||0102030405`,
    'PV1|1|I|WARD1^101^A^HOSP||||1234^WELBY^MARCUS|||MED||||ADM|||1234^WELBY^MARCUS|IN||||||||||||||||||||||||||20260101115900',
    ...Array.from({ length: 6 }, (_, i) => `OBX|${i + 1}|NM|8867-4^Heart rate^LN||${60 + i}|/min|60-100|N|||F|||20260101115500`),
  ];
  return new TextEncoder().encode(segs.join('\r'));
}

function raws(count: number, from: number): RawMessage[] {
  return Array.from({ length: count }, (_, i) => {
    const b = body(from + i);
    return { id: newId('raw'), feed: 'bench', participant: 'p', format: 'hl7v2', receivedAt: new Date(), body: b, sha256: sha256Hex(b), sourceRef: `CTRL${from + i}` };
  });
}

/** Runs `op` over every input with `concurrency` in flight; latency per op in ms. */
async function run<T>(inputs: readonly T[], concurrency: number, op: (input: T) => Promise<unknown>): Promise<{ seconds: number; lat: Float64Array }> {
  const lat = new Float64Array(inputs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < inputs.length; i = next++) {
      const start = process.hrtime.bigint();
      await op(inputs[i] as T);
      lat[i] = Number(process.hrtime.bigint() - start) / 1e6;
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, lat: lat.sort() };
}

const pct = (sorted: Float64Array, p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

async function measure<T>(name: string, make: (count: number, from: number) => T[], op: (input: T) => Promise<unknown>): Promise<Result[]> {
  await run(make(WARMUP, 0), CONCURRENCY, op);
  const out: Result[] = [];
  for (const [mode, count, concurrency] of [['sequential', SEQUENTIAL_OPS, 1], [`${CONCURRENCY} concurrent`, CONCURRENT_OPS, CONCURRENCY]] as const) {
    const inputs = make(count, out.length === 0 ? WARMUP : WARMUP + SEQUENTIAL_OPS);
    const { seconds, lat } = await run(inputs, concurrency, op);
    out.push({ name, mode, opsPerSec: count / seconds, p50: pct(lat, 0.5), p99: pct(lat, 0.99) });
  }
  return out;
}

/**
 * A libsodium whose randombytes_buf is node's CSPRNG. libsodium-wrappers' own randombytes_buf costs
 * ~80 µs per call on Node 20 (it fetches entropy 4 bytes at a time), which dominates
 * AtRestCipher.seal. Shown as a separate row: it is the fix proposed for at-rest.ts, not what ships.
 */
function withNodeNonces(sodium: Sodium): Sodium {
  return Object.create(sodium, { randombytes_buf: { value: (n: number) => randomFillSync(new Uint8Array(n)) } }) as Sodium;
}

async function main(): Promise<void> {
  const sodium = await loadSodium();
  const key = sodium.randombytes_buf(32);
  const variants = [
    { name: 'LmdbStore.putRaw', cipher: new AtRestCipher(sodium, key) },
    { name: 'LmdbStore.putRaw, node nonce*', cipher: new AtRestCipher(withNodeNonces(sodium), key) },
  ];
  const rounds: Result[][] = [];
  // The box is shared and noisy: interleave floor and store per round, report the median round.
  for (let round = 0; round < ROUNDS; round++) {
    const results: Result[] = [];
    const floorDir = await mkdtemp(join(tmpdir(), 'passerelle-bench-floor-'));
    try {
      const floor = openLmdb(floorDir);
      results.push(...await measure('bare lmdb put (floor)', raws, (r) => floor.rec.put([r.id, 1], r.body)));
      await floor.env.close();
    } finally {
      await rm(floorDir, { recursive: true, force: true });
    }
    for (const variant of variants) {
      const dir = await mkdtemp(join(tmpdir(), 'passerelle-bench-store-'));
      try {
        const store = await LmdbStore.open({ path: dir, cipher: variant.cipher });
        results.push(...await measure(variant.name, raws, async (r) => {
          if ((await store.putRaw(r)).status !== 'stored') throw new Error('bench inputs must all be new');
        }));
        await store.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    rounds.push(results);
  }
  print(median(rounds));
  console.log('* proposed at-rest.ts fix: nonce from node:crypto randomFillSync instead of libsodium randombytes_buf');
}

/** Per row, the round with the median ops/s (its p50/p99 come with it). */
function median(rounds: Result[][]): Result[] {
  return (rounds[0] ?? []).map((_, row) => {
    const sorted = rounds.map((r) => r[row]).filter((r): r is Result => r !== undefined).sort((a, b) => a.opsPerSec - b.opsPerSec);
    return sorted[Math.floor(sorted.length / 2)] as Result;
  });
}

function print(results: Result[]): void {
  const floorOf = (mode: string): number => results.find((r) => r.mode === mode)?.opsPerSec ?? NaN;
  const rows = results.map((r) => [r.name, r.mode, Math.round(r.opsPerSec).toLocaleString('en-US'),
    r.p50.toFixed(3), r.p99.toFixed(3), `${Math.round((100 * r.opsPerSec) / floorOf(r.mode))}%`]);
  const head = ['case', 'mode', 'durable ops/s', 'p50 ms', 'p99 ms', 'vs floor'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(`putRaw, ~${body(0).length}-byte HL7 bodies, node ${process.version}, median of ${ROUNDS} rounds`);
  console.log(line(head));
  for (const row of rows) console.log(line(row));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
