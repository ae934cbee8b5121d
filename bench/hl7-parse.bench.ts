/**
 * parseHl7 plus the reads a normalizer makes (MSH-9/10, PID-3/5/7/8, every OBX-3/5), against
 * node-hl7-client 3.2.0 doing the same on the same corpus messages, in the same run.
 *
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/hl7-parse.bench.js
 */
import { Message } from 'node-hl7-client';
import { parseHl7 } from '../adapters/hl7v2/parse.js';
import { corpusMessages } from './hl7-corpus.js';
import { percentile } from './lib/stats.js';

interface RefNode { length: number; get(path: string): RefNode; toString(): string; forEach(cb: (n: RefNode) => void): void }
interface Row { name: string; msgPerSec: number; mbPerSec: number; p50us: number; p99us: number }

let sink = 0;

function ours(input: string | Uint8Array): void {
  const r = parseHl7(input);
  if (!r.ok) return;
  const m = r.message;
  const h = m.header;
  sink += h.messageType.code.length + h.messageType.trigger.length + h.controlId.length;
  sink += m.values('PID-3.1').length + m.get('PID-5.1').length + m.get('PID-5.2').length + m.get('PID-7').length + m.get('PID-8').length;
  for (const obx of m.segments('OBX')) sink += obx.get(3).length + obx.get(5).length;
}

function oursParseOnly(text: string): void {
  sink += parseHl7(text).ok ? 1 : 0;
}

function reference(text: string): void {
  const m = new Message({ text }) as unknown as RefNode;
  sink += m.get('MSH.9.1').toString().length + m.get('MSH.9.2').toString().length + m.get('MSH.10').toString().length;
  const pid3 = m.get('PID.3');
  if (pid3.length > 0) pid3.forEach((rep) => { sink += rep.toString().length; }); // its empty node throws on forEach
  sink += m.get('PID.5.1').toString().length + m.get('PID.5.2').toString().length + m.get('PID.7').toString().length + m.get('PID.8').toString().length;
  const obxs = m.get('OBX');
  if (obxs.length > 0) obxs.forEach((obx) => { sink += obx.get('OBX.3.1').toString().length + obx.get('OBX.5').toString().length; });
}

function referenceParseOnly(text: string): void {
  sink += (new Message({ text }) as unknown as { length: number }).length;
}

function measure<T>(name: string, messages: readonly T[], bytes: number, op: (t: T) => void, seconds: number): Row {
  for (let i = 0; i < 3; i++) for (const m of messages) op(m); // warm-up: let V8 optimise
  const lat: number[] = [];
  let done = 0;
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(Math.round(seconds * 1e9));
  let now = t0;
  let rounds = 0;
  while (now < deadline) {
    for (const m of messages) {
      const s = process.hrtime.bigint();
      op(m);
      const e = process.hrtime.bigint();
      lat.push(Number(e - s) / 1e3);
      now = e;
    }
    done += messages.length;
    rounds++;
  }
  const secs = Number(now - t0) / 1e9;
  const sorted = Float64Array.from(lat).sort();
  return { name, msgPerSec: done / secs, mbPerSec: (bytes * rounds) / secs / 1e6, p50us: percentile(sorted, 0.5), p99us: percentile(sorted, 0.99) };
}

const all = corpusMessages();
// The reference refuses messages where "MSH|" appears inside a field; measure both on the rest.
const messages = all.filter((m) => { try { new Message({ text: m }); return true; } catch { return false; } });
const buffers = messages.map((m) => Buffer.from(m, 'utf8'));
const bytes = messages.reduce((n, m) => n + Buffer.byteLength(m), 0);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
console.log(`${messages.length} corpus messages (${all.length - messages.length} refused by the reference), ${(bytes / 1e6).toFixed(2)} MB per round, ${seconds}s per row`);

const rows = [
  measure('node-hl7-client 3.2.0: parse + normalizer reads', messages, bytes, reference, seconds),
  measure('parseHl7: parse + normalizer reads', messages, bytes, ours, seconds),
  measure('parseHl7 from frame bytes (UTF-8 check + decode): parse + reads', buffers, bytes, ours, seconds),
  measure('node-hl7-client 3.2.0: constructor only (lazy, baseline for the next row)', messages, bytes, referenceParseOnly, seconds),
  measure('parseHl7: parse only', messages, bytes, oursParseOnly, seconds),
];
const base = [rows[0]!.msgPerSec, rows[0]!.msgPerSec, rows[0]!.msgPerSec, rows[3]!.msgPerSec, rows[3]!.msgPerSec];
console.table(rows.map((r, i) => ({
  case: r.name, 'msg/s': Math.round(r.msgPerSec), 'MB/s': r.mbPerSec.toFixed(1),
  'p50 µs': r.p50us.toFixed(1), 'p99 µs': r.p99us.toFixed(1), 'vs baseline': `${(r.msgPerSec / base[i]!).toFixed(1)}×`,
})));
if (sink === 0) console.log('sink empty');
