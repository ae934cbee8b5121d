/**
 * MLLP durable intake: our MllpFeed on LmdbStore (every ACK after the fsynced commit) against, in
 * the same run, node-hl7-server 2.5.0 (one connection per message, its only correct use; it stores
 * nothing) and a raw socket floor (our framer + a canned ACK, no parse, no store). ADT and ORU
 * corpus messages, each made unique (MSH-10) so every one is a real store write. 1 connection
 * (sequential) and 16 connections. The load generator runs in a worker thread so sender and
 * gateway do not share an event loop. Latency is send → ACK received, in ms.
 *
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/mllp-intake.bench.js
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Server as Hl7Server } from 'node-hl7-server';
import { MllpFeed } from '../adapters/hl7v2/mllp-feed.js';
import { MllpFramer } from '../adapters/hl7v2/mllp-framer.js';
import { parseHl7 } from '../adapters/hl7v2/parse.js';
import { newId, sha256Hex } from '../gateway/core/ids.js';
import { loadSodium } from '../protocol/crypto/sodium.js';
import { createLogger } from '../gateway/log.js';
import { Metrics } from '../gateway/metrics.js';
import { Intake } from '../gateway/pipeline/intake.js';
import { AtRestCipher } from '../gateway/store/at-rest.js';
import { LmdbStore } from '../gateway/store/lmdb-store.js';
import { corpusMessages } from './hl7-corpus.js';
import { percentile } from './lib/stats.js';

const PER_CONN_SEQ = Number(process.env.SEQ_OPS ?? 3_000);
const CONC_OPS = Number(process.env.CONC_OPS ?? 32_000);
const BASELINE_OPS = Number(process.env.BASELINE_OPS ?? 4_000);

/** What the load-generating worker thread does. */
interface LoadJob {
  port: number;
  frames: Buffer[];
  connections: number;
  /** One TCP connection per message (node-hl7-server's only correct use) instead of persistent ones. */
  perMessage: boolean;
}

const VT = Buffer.from([0x0b]);
const FS_CR = Buffer.from([0x1c, 0x0d]);

/** One sender: connect, then send → wait for the ACK frame → next. */
async function sender(port: number, frames: Buffer[], lat: Float64Array, idx: number[], perMessage: boolean): Promise<void> {
  let sock: Socket | undefined;
  let framer = new MllpFramer();
  let waiting: (() => void) | undefined;
  const open = async (): Promise<Socket> => {
    const s = connect({ host: '127.0.0.1', port });
    s.setNoDelay(true);
    framer = new MllpFramer();
    s.on('data', (c: Buffer) => { if (framer.push(c).length > 0) waiting?.(); });
    await once(s, 'connect');
    return s;
  };
  for (const i of idx) {
    sock = perMessage || !sock ? await open() : sock;
    const t0 = process.hrtime.bigint();
    const acked = new Promise<void>((resolve) => { waiting = resolve; });
    sock.write(Buffer.concat([VT, frames[i]!, FS_CR]));
    await acked;
    lat[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    if (perMessage) {
      sock.destroy();
      sock = undefined;
    }
  }
  sock?.destroy();
}

async function loadGenerator(job: LoadJob): Promise<{ seconds: number; lat: Float64Array }> {
  const lat = new Float64Array(job.frames.length);
  const slices = Array.from({ length: job.connections }, (_, c) => job.frames.map((_, i) => i).filter((i) => i % job.connections === c));
  const t0 = process.hrtime.bigint();
  await Promise.all(slices.map((idx) => sender(job.port, job.frames, lat, idx, job.perMessage)));
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, lat };
}

if (!isMainThread) {
  const job = workerData as LoadJob;
  loadGenerator(job).then((r) => parentPort!.postMessage(r, [r.lat.buffer as ArrayBuffer]), (err: unknown) => { throw err; });
} else {
  await main();
}

interface Row { target: string; messages: string; conns: number; n: number; rate: number; p50: number; p99: number }

/** Corpus messages of one type, MSH-10 made unique per send and MSH-15/16 emptied (original mode). */
function unique(type: 'ADT' | 'ORU', count: number, tag: string): Buffer[] {
  const base = corpusMessages().map((m) => m.replace(/\r?\n/g, '\r')).filter((m) => {
    const r = parseHl7(m);
    return r.ok && r.message.header.messageType.code === type && !r.issues.some((i) => i.severity !== 'warning');
  });
  if (base.length === 0) throw new Error(`no ${type} message in the corpus`);
  return Array.from({ length: count }, (_, i) => {
    const m = base[i % base.length]!;
    const end = m.indexOf('\r');
    const fields = (end === -1 ? m : m.slice(0, end)).split(m[3]!);
    fields[9] = `${tag}${i}`; // MSH-10: fields[0] is MSH, fields[1] is MSH-2
    // Original mode for every message: with MSH-15 NE a sender would (correctly) get no ACK at all.
    if (fields.length > 14) fields[14] = '';
    if (fields.length > 15) fields[15] = '';
    return Buffer.from(fields.join(m[3]!) + (end === -1 ? '' : m.slice(end)), 'utf8');
  });
}

function run(job: LoadJob): Promise<{ seconds: number; lat: Float64Array }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: job });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

function row(target: string, messages: string, conns: number, r: { seconds: number; lat: Float64Array }): Row {
  const lat = r.lat.sort();
  return { target, messages, conns, n: lat.length, rate: lat.length / r.seconds, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99) };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Raw floor: framer + canned ACK, no parsing, no store. */
async function rawFloor(): Promise<{ port: number; close(): Promise<void> }> {
  const canned = Buffer.from('\x0bMSH|^~\\&|GW|GW|A|B|20260101||ACK^A01^ACK|1|P|2.5.1\rMSA|AA|1\x1c\r', 'latin1');
  const server = createServer((s) => {
    s.setNoDelay(true);
    const f = new MllpFramer();
    s.on('data', (c) => { for (const _ of f.push(c)) s.write(canned); });
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => { server.close(() => resolve()); }) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'passerelle-bench-mllp-'));
  const log = createLogger({ level: 'silent' });
  const store = await LmdbStore.open({ path: join(dir, 'lmdb'), cipher: new AtRestCipher(await loadSodium(), randomBytes(32)), log });
  // As the gateway runs it: each raw is stored and queued for normalization (one LMDB commit).
  const intake = new Intake({ store, log, metrics: new Metrics(store, []), normalizedFormats: ['hl7v2'] });
  const feed = new MllpFeed({ name: 'bench', owner: { participant: 'bench', kind: 'hospital' }, intake, log, port: 0, allowFrom: ['127.0.0.1'], maxConnections: 64 });
  const { port } = await feed.listen();
  // The adapter alone: same feed code, an IntakePort that only hashes (no store), to separate our cost from the store's.
  let seq = 0;
  const memory = new MllpFeed({
    name: 'bench-mem', owner: { participant: 'bench', kind: 'hospital' }, log, port: 0, allowFrom: ['127.0.0.1'], maxConnections: 64,
    intake: { accept: async (req) => ({ status: 'stored', rawId: newId('raw'), sha256: sha256Hex(req.body), n: seq++ }) },
  });
  const memPort = (await memory.listen()).port;
  const floor = await rawFloor();
  const nhsPort = await freePort();
  const nhs = new Hl7Server({ bindAddress: '127.0.0.1' }).createInbound({ port: nhsPort }, async (_req, res) => { await res.sendResponse('AA'); });
  await new Promise((r) => setTimeout(r, 200));

  const rows: Row[] = [];
  let tag = 0;
  const msgs = (type: 'ADT' | 'ORU', n: number): Buffer[] => unique(type, n, `B${tag++}X`);
  await run({ port, frames: msgs('ADT', 2_000), connections: 16, perMessage: false }); // warm-up
  for (const type of ['ADT', 'ORU'] as const) {
    rows.push(row('passerelle MllpFeed + LMDB', type, 1, await run({ port, frames: msgs(type, PER_CONN_SEQ), connections: 1, perMessage: false })));
    rows.push(row('passerelle MllpFeed + LMDB', type, 16, await run({ port, frames: msgs(type, CONC_OPS), connections: 16, perMessage: false })));
    rows.push(row('passerelle MllpFeed, no store', type, 1, await run({ port: memPort, frames: msgs(type, PER_CONN_SEQ), connections: 1, perMessage: false })));
    rows.push(row('passerelle MllpFeed, no store', type, 16, await run({ port: memPort, frames: msgs(type, CONC_OPS), connections: 16, perMessage: false })));
    rows.push(row('node-hl7-server 2.5.0 (conn/msg)', type, 1, await run({ port: nhsPort, frames: msgs(type, BASELINE_OPS / 2), connections: 1, perMessage: true })));
    rows.push(row('node-hl7-server 2.5.0 (conn/msg)', type, 16, await run({ port: nhsPort, frames: msgs(type, BASELINE_OPS), connections: 16, perMessage: true })));
    rows.push(row('raw floor (framer + canned ACK)', type, 1, await run({ port: floor.port, frames: msgs(type, PER_CONN_SEQ), connections: 1, perMessage: false })));
    rows.push(row('raw floor (framer + canned ACK)', type, 16, await run({ port: floor.port, frames: msgs(type, CONC_OPS), connections: 16, perMessage: false })));
  }
  print(rows);
  await feed.close();
  await memory.close();
  await nhs.close();
  await floor.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

function print(rows: Row[]): void {
  const fmt = (n: number, d = 0): string => n.toFixed(d);
  process.stdout.write(`\n| target | msgs | conns | n | msg/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|\n`);
  for (const r of rows) process.stdout.write(`| ${r.target} | ${r.messages} | ${r.conns} | ${r.n} | ${fmt(r.rate)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |\n`);
  for (const type of ['ADT', 'ORU']) {
    const ours = rows.find((r) => r.messages === type && r.conns === 16 && r.target.startsWith('passerelle MllpFeed + LMDB'))!;
    const nhs = rows.find((r) => r.messages === type && r.conns === 16 && r.target.startsWith('node-hl7-server'))!;
    const floor = rows.find((r) => r.messages === type && r.conns === 16 && r.target.startsWith('raw'))!;
    process.stdout.write(`${type}, 16 conns: ${fmt(ours.rate / nhs.rate, 1)}× node-hl7-server, ${fmt(100 * ours.rate / floor.rate)}% of the raw floor; `
      + `targets ≥10k msg/s ${ours.rate >= 10_000 ? 'met' : 'MISSED'}, p99 < 10 ms ${ours.p99 < 10 ? 'met' : 'MISSED'}, ≥5× ${ours.rate >= 5 * nhs.rate ? 'met' : 'MISSED'}\n`);
  }
}
