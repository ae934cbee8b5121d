/**
 * Durable LmdbStore.putRaw against its raw floor: a bare lmdb-js put of the same bytes in an
 * environment opened with the same sync settings (openLmdb: overlappingSync off, sync on).
 * Sequential (one put in flight) and 64 concurrent (group commit). Every op is timed from call
 * to resolved promise, i.e. until the data is fsynced. A middle row does putRaw's three writes
 * (body + two dedupe keys) unsealed and unchecked, to split the gap into indexing vs sealing.
 * `cpu µs/op` is process CPU (main + lmdb write thread, user + sys) per op: steadier than ops/s
 * on a shared machine.
 *
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/store-lmdb.bench.js   (ROUNDS=n, default 3)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RawMessage } from '../gateway/core/types.js';
import { newId, sha256Hex } from '../gateway/core/ids.js';
import { loadSodium } from '../protocol/crypto/sodium.js';
import { AtRestCipher } from '../gateway/store/at-rest.js';
import { createHash } from 'node:crypto';
import { openLmdb } from '../gateway/store/lmdb-schema.js';
import { LmdbStore } from '../gateway/store/lmdb-store.js';
import { percentile } from './lib/stats.js';

const WARMUP = 2_000;
const SEQUENTIAL_OPS = 2_000;
const CONCURRENT_OPS = 40_000;
const CONCURRENCY = 64;
const ROUNDS = Number(process.env.ROUNDS ?? 3);

interface Result { name: string; mode: string; opsPerSec: number; p50: number; p99: number; cpuUs: number }

/** One benchmarked case: opened fresh in its own temp dir each round. */
interface Case {
  name: string;
  open(dir: string): Promise<{ op: (raw: RawMessage) => Promise<unknown>; close: () => Promise<void> }>;
}

/** A ~740-byte ADT^A01; `n` makes every body (and so its sha256 and control id) distinct. */
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

let serial = 0;
/** Fresh messages, built before timing: hashing the body is the feed's job, not the store's. */
function raws(count: number): RawMessage[] {
  return Array.from({ length: count }, () => {
    const n = serial++;
    const b = body(n);
    return {
      id: newId('raw'), feed: 'bench', participant: 'p', format: 'hl7v2', receivedAt: new Date(),
      body: b, sha256: sha256Hex(b), sourceRef: `CTRL${n}`,
    };
  });
}

/** Runs `op` over every input with `concurrency` in flight. */
async function run(
  inputs: readonly RawMessage[], concurrency: number, op: (raw: RawMessage) => Promise<unknown>,
): Promise<{ seconds: number; cpuUs: number; lat: Float64Array }> {
  const lat = new Float64Array(inputs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < inputs.length; i = next++) {
      const start = process.hrtime.bigint();
      await op(inputs[i] as RawMessage);
      lat[i] = Number(process.hrtime.bigint() - start) / 1e6;
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { seconds, cpuUs: cpu.user + cpu.system, lat: lat.sort() };
}

async function measure(c: Case): Promise<Result[]> {
  const dir = await mkdtemp(join(tmpdir(), 'passerelle-bench-'));
  try {
    const { op, close } = await c.open(dir);
    await run(raws(WARMUP), CONCURRENCY, op);
    const out: Result[] = [];
    const modes = [['sequential', SEQUENTIAL_OPS, 1], [`${CONCURRENCY} concurrent`, CONCURRENT_OPS, CONCURRENCY]] as const;
    for (const [mode, count, concurrency] of modes) {
      const { seconds, cpuUs, lat } = await run(raws(count), concurrency, op);
      out.push({ name: c.name, mode, opsPerSec: count / seconds, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), cpuUs: cpuUs / count });
    }
    await close();
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function storeCase(name: string, cipher: AtRestCipher): Case {
  return {
    name,
    async open(path) {
      const store = await LmdbStore.open({ path, cipher });
      return {
        op: async (raw) => {
          if ((await store.putRaw(raw)).status !== 'stored') throw new Error('bench inputs must all be new');
        },
        close: () => store.close(),
      };
    },
  };
}

async function main(): Promise<void> {
  const sodium = await loadSodium();
  const cases: Case[] = [
    {
      name: 'bare lmdb put (floor)',
      async open(path) {
        const dbs = openLmdb(path);
        return { op: (raw) => dbs.rec.put([raw.id, 1], raw.body), close: () => dbs.env.close() };
      },
    },
    {
      name: 'bare: body + 2 dedupe keys',
      async open(path) {
        const dbs = openLmdb(path);
        return {
          op: (raw) => dbs.env.transaction(() => {
            dbs.rec.put([raw.id, 1], raw.body);
            dbs.dedupe.put(['s', raw.feed, raw.sha256], raw.id);
            dbs.dedupe.put(['r', raw.feed, createHash('sha256').update(raw.sourceRef ?? '').digest('hex')], raw.id);
          }),
          close: () => dbs.env.close(),
        };
      },
    },
    storeCase('LmdbStore.putRaw', new AtRestCipher(sodium, sodium.randombytes_buf(32))),
  ];
  const rounds: Result[][] = [];
  // The machine is shared and noisy: every case runs once per round, the median round is shown.
  for (let round = 0; round < ROUNDS; round++) {
    const results: Result[] = [];
    for (const c of cases) results.push(...await measure(c));
    rounds.push(results);
  }
  print(median(rounds));
}

/** Per row, the round with the median ops/s (its latencies and CPU come with it). */
function median(rounds: Result[][]): Result[] {
  return (rounds[0] ?? []).map((_, row) => {
    const sorted = rounds.map((r) => r[row]).filter((r): r is Result => r !== undefined).sort((a, b) => a.opsPerSec - b.opsPerSec);
    return sorted[Math.floor(sorted.length / 2)] as Result;
  });
}

function print(results: Result[]): void {
  const floorOf = (mode: string): number => results.find((r) => r.mode === mode)?.opsPerSec ?? NaN;
  const rows = results.map((r) => [r.name, r.mode, Math.round(r.opsPerSec).toLocaleString('en-US'),
    r.p50.toFixed(2), r.p99.toFixed(2), r.cpuUs.toFixed(0), `${Math.round((100 * r.opsPerSec) / floorOf(r.mode))}%`]);
  const head = ['case', 'mode', 'durable ops/s', 'p50 ms', 'p99 ms', 'cpu µs/op', 'vs floor'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(`putRaw, ${body(0).length}-byte HL7 bodies, node ${process.version}, median of ${ROUNDS} rounds`);
  console.log(line(head));
  for (const row of rows) console.log(line(row));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
