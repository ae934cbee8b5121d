/**
 * RedisStore.putRaw against its raw floor in the same run: a bare SET and a bare XADD of the same
 * bytes on a connection built the same way (createConn: RESP3, auto-pipelining). Sequential (one
 * op in flight) and 64 concurrent. Each op is timed from call to Redis's answer. The gap to the
 * floor is what the store adds: one AtRestCipher seal of the body (CPU row below) and the dedupe
 * script (two GETs, two SETs and an HSET, in one round trip).
 *
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/store-redis.bench.js
 * Env: PASSERELLE_BENCH_REDIS_URL (default redis://127.0.0.1:6379). Uses its own key prefix and
 * deletes it at the end.
 */
import { randomUUID } from 'node:crypto';
import type { RawMessage } from '../gateway/core/types.js';
import { newId, sha256Hex } from '../gateway/core/ids.js';
import { loadSodium } from '../protocol/crypto/sodium.js';
import { AtRestCipher } from '../gateway/store/at-rest.js';
import { createConn, toArg, type RedisConn } from '../gateway/store/redis-conn.js';
import { RedisStore } from '../gateway/store/redis-store.js';
import { percentile } from './lib/stats.js';

const URL = process.env.PASSERELLE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `bench:store-redis:${process.pid}:${randomUUID()}:`;
const WARMUP = 2_000;
const SEQUENTIAL = 3_000;
const CONCURRENT = 30_000;
const CONCURRENCY = 64;

interface Row { name: string; mode: string; opsPerSec: number; p50: number; p99: number }

/** A ~1.1 KB ADT^A01 whose control id and MRN make every body (and its sha256) distinct. */
function adt(n: number): Uint8Array {
  return new TextEncoder().encode([
    `MSH|^~\\&|SENDAPP|SENDFAC|PASSERELLE|GW|20260101120000||ADT^A01^ADT_A01|CTRL${n}|P|2.5.1`,
    'EVN|A01|20260101120000',
    `PID|1||${100000 + n}^^^HOSP^MR||DOE^JANE^Q||19610615|F|||1 RUE DE LA PAIX^^PARIS^^75001^FRA||0102030405`,
    'PV1|1|I|WARD1^101^A^HOSP||||1234^WELBY^MARCUS|||MED||||ADM|||1234^WELBY^MARCUS|IN||||||||||||||||||||||||||20260101115900',
    ...Array.from({ length: 6 }, (_, i) => `OBX|${i + 1}|NM|8867-4^Heart rate^LN||${60 + i}|/min|60-100|N|||F|||20260101115500`),
  ].join('\r'));
}

// A counter shared by every case, so no two ops ever write the same bytes (no accidental duplicates).
let serial = 0;
function nextRaw(): RawMessage {
  const body = adt(serial++);
  return { id: newId('raw'), feed: 'bench', participant: 'p', format: 'hl7v2', receivedAt: new Date(), body, sha256: sha256Hex(body), sourceRef: `CTRL${serial}` };
}

/** `count` ops with `concurrency` in flight; returns wall seconds and sorted latencies (ms). */
async function drive(count: number, concurrency: number, op: (raw: RawMessage) => Promise<unknown>): Promise<{ seconds: number; lat: Float64Array }> {
  const inputs = Array.from({ length: count }, nextRaw);
  const lat = new Float64Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const t0 = process.hrtime.bigint();
      await op(inputs[i] as RawMessage);
      lat[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, lat: lat.sort() };
}

const MODES = [['sequential', SEQUENTIAL, 1], [`${CONCURRENCY} concurrent`, CONCURRENT, CONCURRENCY]] as const;

/**
 * @param name - row label
 * @param op - one operation on a fresh raw
 * @param modes - CPU-only cases run sequential only: concurrency would just queue them
 */
async function measure(name: string, op: (raw: RawMessage) => Promise<unknown>, modes: ReadonlyArray<(typeof MODES)[number]> = MODES): Promise<Row[]> {
  await drive(WARMUP, CONCURRENCY, op);
  const rows: Row[] = [];
  for (const [mode, count, concurrency] of modes) {
    const { seconds, lat } = await drive(count, concurrency, op);
    rows.push({ name, mode, opsPerSec: count / seconds, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99) });
  }
  return rows;
}

function print(rows: readonly Row[]): void {
  const line = (cells: string[]): string => `${cells[0]?.padEnd(34)}${cells[1]?.padEnd(15)}${cells.slice(2).map((c) => c.padStart(11)).join('')}`;
  console.log(line(['case', 'mode', 'ops/s', 'p50 ms', 'p99 ms']));
  for (const r of rows) console.log(line([r.name, r.mode, r.opsPerSec.toFixed(0), r.p50.toFixed(3), r.p99.toFixed(3)]));
}

async function deletePrefix(conn: RedisConn): Promise<number> {
  let removed = 0;
  for await (const keys of conn.scanIterator({ MATCH: `${PREFIX}*`, COUNT: 1000 })) {
    if (keys.length > 0) removed += await conn.del(keys);
  }
  return removed;
}

async function main(): Promise<void> {
  const sodium = await loadSodium();
  const cipher = new AtRestCipher(sodium, sodium.randombytes_buf(32));
  const store = await RedisStore.open({ url: URL, prefix: `${PREFIX}store:`, cipher, durability: 'none' });
  const conn = createConn(URL);
  await conn.connect();
  try {
    const config = await conn.configGet(['appendonly', 'appendfsync']);
    console.log(`redis ${URL}  appendonly=${String(config.appendonly)} appendfsync=${String(config.appendfsync)}  body ≈ ${adt(0).length} B`);
    const rows = [
      ...await measure('floor: SET', (raw) => conn.set(`${PREFIX}set:${raw.id}`, toArg(raw.body))),
      ...await measure('floor: XADD', (raw) => conn.xAdd(`${PREFIX}xadd`, '*', { b: toArg(raw.body) })),
      ...await measure('RedisStore.putRaw', async (raw) => {
        if ((await store.putRaw(raw)).status !== 'stored') throw new Error('bench inputs must all be new');
      }),
      ...await measure('cpu only: AtRestCipher.seal', async (raw) => {
        cipher.seal(raw.body, `raw:${raw.id}`);
      }, MODES.slice(0, 1)),
    ];
    print(rows);
  } finally {
    await store.close();
    const removed = await deletePrefix(conn);
    console.log(`cleaned ${removed} keys under the bench prefix`);
    await conn.close();
  }
}

main().catch((err: unknown) => {
  console.error('bench failed:', (err as Error).name, (err as { code?: string }).code ?? '');
  process.exitCode = 1;
});
