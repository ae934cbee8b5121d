/**
 * MllpFramer against the naive framer (Buffer.concat every chunk, indexOf from the start), on one
 * stream of framed corpus messages cut into seeded random chunk sizes. Same bytes, same run.
 *
 * Run: npx tsc -p tsconfig.build.json && node dist/bench/mllp-framer.bench.js
 */
import { MllpFramer } from '../adapters/hl7v2/mllp-framer.js';
import { corpusMessages, seeded } from './hl7-corpus.js';
import { percentile } from './lib/stats.js';

const VT = Buffer.from([0x0b]);
const FS_CR = Buffer.from([0x1c, 0x0d]);

interface Framer { push(chunk: Uint8Array): Uint8Array[] }

/** The baseline: what most MLLP code does (and STYLE.md's first sketch). */
class NaiveFramer implements Framer {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Uint8Array): Uint8Array[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const frames: Uint8Array[] = [];
    for (let start = this.buf.indexOf(VT); start !== -1; start = this.buf.indexOf(VT)) {
      const end = this.buf.indexOf(FS_CR, start + 1);
      if (end === -1) {
        this.buf = this.buf.subarray(start);
        break;
      }
      frames.push(this.buf.subarray(start + 1, end));
      this.buf = this.buf.subarray(end + 2);
    }
    return frames;
  }
}

/** Cut the stream into chunks of seeded random sizes in [min, max]. */
function cut(stream: Buffer, min: number, max: number, seed: number): Buffer[] {
  const rand = seeded(seed);
  const chunks: Buffer[] = [];
  for (let pos = 0; pos < stream.length;) {
    const n = min + Math.floor(rand() * (max - min + 1));
    chunks.push(stream.subarray(pos, pos + n));
    pos += n;
  }
  return chunks;
}

interface Row { framer: string; chunks: string; mbPerSec: number; framesPerSec: number; p50us: number; p99us: number }

function measure(name: string, make: () => Framer, chunks: readonly Buffer[], label: string, expectFrames: number, rounds: number): Row {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const perChunk: number[] = [];
  let frames = 0;
  let elapsed = 0n;
  for (let r = -1; r < rounds; r++) { // round -1 warms up and is not counted
    const framer = make();
    let got = 0;
    const t0 = process.hrtime.bigint();
    for (const c of chunks) {
      const s = process.hrtime.bigint();
      got += framer.push(c).length;
      if (r >= 0) perChunk.push(Number(process.hrtime.bigint() - s) / 1e3);
    }
    if (got !== expectFrames) throw new Error(`${name} produced ${got} frames, expected ${expectFrames}`);
    if (r >= 0) {
      elapsed += process.hrtime.bigint() - t0;
      frames += got;
    }
  }
  const secs = Number(elapsed) / 1e9;
  const sorted = Float64Array.from(perChunk).sort();
  return { framer: name, chunks: label, mbPerSec: (total * rounds) / secs / 1e6, framesPerSec: frames / secs, p50us: percentile(sorted, 0.5), p99us: percentile(sorted, 0.99) };
}

const messages = corpusMessages().map((m) => Buffer.from(m, 'utf8'));
const copies = Number(process.env.BENCH_COPIES ?? 8);
const framed: Buffer[] = [];
for (let i = 0; i < copies; i++) for (const m of messages) framed.push(VT, m, FS_CR);
const stream = Buffer.concat(framed);
const expect = messages.length * copies;
const maxMessage = Math.max(...messages.map((m) => m.length));
console.log(`${expect} frames, ${(stream.length / 1e6).toFixed(1)} MB stream, largest message ${maxMessage} bytes`);

const scenarios: Array<[string, number, number, number]> = [
  ['1-64 B', 1, 64, 2],
  ['512-1460 B (TCP segments)', 512, 1460, 5],
  ['64 KiB (socket reads)', 65536, 65536, 10],
];
const rows: Row[] = [];
for (const [label, min, max, rounds] of scenarios) {
  const chunks = cut(stream, min, max, 42);
  const naive = measure('naive Buffer.concat + indexOf', () => new NaiveFramer(), chunks, label, expect, rounds);
  const ours = measure('MllpFramer', () => new MllpFramer({ maxFrameBytes: 4 * 1024 * 1024 }), chunks, label, expect, rounds);
  rows.push(naive, ours);
}
// A large message (all corpus messages as one ~0.8 MB body, e.g. an ORU with embedded PDF) arriving
// in TCP-sized chunks: the naive framer re-concatenates and re-scans the whole prefix each time.
const big = Buffer.concat([VT, Buffer.concat(messages), FS_CR]);
const bigStream = Buffer.concat(Array.from({ length: 4 }, () => big));
const bigChunks = cut(bigStream, 512, 1460, 7);
const bigLabel = `4 × ${(big.length / 1e6).toFixed(1)} MB message, 512-1460 B`;
rows.push(measure('naive Buffer.concat + indexOf', () => new NaiveFramer(), bigChunks, bigLabel, 4, 1));
rows.push(measure('MllpFramer', () => new MllpFramer({ maxFrameBytes: 4 * 1024 * 1024 }), bigChunks, bigLabel, 4, 1));
console.table(rows.map((r, i) => ({
  framer: r.framer, chunks: r.chunks, 'MB/s': r.mbPerSec.toFixed(1), 'frames/s': Math.round(r.framesPerSec),
  'p50 µs/chunk': r.p50us.toFixed(2), 'p99 µs/chunk': r.p99us.toFixed(2),
  'vs naive': i % 2 === 1 ? `${(r.mbPerSec / rows[i - 1]!.mbPerSec).toFixed(1)}×` : '1.0×',
})));
