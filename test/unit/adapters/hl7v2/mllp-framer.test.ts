import { readFileSync } from 'node:fs';
import t from 'tap';
import { MllpFramer } from '../../../../adapters/hl7v2/mllp-framer.js';
import { splitBatch } from '../../../../adapters/hl7v2/batch.js';
import { corpus } from '../../../helpers/corpus.js';

const VT = '\x0b';
const END = '\x1c\r';
const frame = (body: string): string => `${VT}${body}${END}`;
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
const text = (frames: Uint8Array[]): string[] => frames.map((f) => Buffer.from(f).toString('latin1'));

t.test('a frame in one write', async (t) => {
  const f = new MllpFramer();
  t.same(text(f.push(bytes(frame('MSH|^~\\&|A\rPID|1')))), ['MSH|^~\\&|A\rPID|1']);
  t.equal(f.stats.frames, 1);
  t.equal(f.stats.noiseBytes, 0);
});

t.test('a frame split across writes', async (t) => {
  const f = new MllpFramer();
  t.same(f.push(bytes(`${VT}MSH|^~\\&|A`)), []);
  t.same(f.push(bytes('\rPID|1')), []);
  t.same(text(f.push(bytes(`|X${END}`))), ['MSH|^~\\&|A\rPID|1|X']);
});

t.test('two frames in one write', async (t) => {
  const f = new MllpFramer();
  t.same(text(f.push(bytes(frame('ONE') + frame('TWO')))), ['ONE', 'TWO']);
  t.equal(f.stats.frames, 2);
});

t.test('a frame plus a partial frame', async (t) => {
  const f = new MllpFramer();
  t.same(text(f.push(bytes(`${frame('ONE')}${VT}TW`))), ['ONE']);
  t.same(text(f.push(bytes(`O${END}`))), ['TWO']);
});

t.test('garbage between frames is skipped and counted, never kept', async (t) => {
  const f = new MllpFramer();
  const out = f.push(bytes(`\r\nHELLO${frame('ONE')}\x00\x01${frame('TWO')}`));
  t.same(text(out), ['ONE', 'TWO']);
  t.equal(f.stats.noiseBytes, 9);
  t.equal(f.stats.noiseRuns, 2);
  const runs = f.recentNoise;
  t.same(runs.map((r) => [r.offset, r.length, r.kind]), [[0, 7, 'between-frames'], [13, 2, 'between-frames']]);
  t.same(runs[0]!.classes, ['whitespace', 'printable']);
  t.same(runs[1]!.classes, ['control']);
  t.notOk(JSON.stringify(runs).includes('HELLO'), 'diagnostics carry classes, not bytes');
});

t.test('noise split across writes is one run', async (t) => {
  const f = new MllpFramer();
  t.same(f.push(bytes('abc')), []);
  t.same(text(f.push(bytes(`de${frame('X')}`))), ['X']);
  t.same(f.recentNoise.map((r) => [r.offset, r.length]), [[0, 5]]);
});

t.test('a new <VT> inside an unfinished frame abandons it (counted)', async (t) => {
  const f = new MllpFramer();
  t.same(text(f.push(bytes(`${VT}HALF${VT}WHOLE${END}`))), ['WHOLE']);
  t.equal(f.stats.abandonedFrames, 1);
  t.same(f.recentNoise.map((r) => [r.offset, r.length, r.kind]), [[0, 5, 'abandoned']]);
});

t.test('a lone <FS> is content; only <FS><CR> ends the frame', async (t) => {
  const f = new MllpFramer();
  t.same(text(f.push(bytes(`${VT}A\x1cB${END}`))), ['A\x1cB']);
});

t.test('<FS> at the end of one chunk and <CR> at the start of the next', async (t) => {
  const f = new MllpFramer();
  t.same(f.push(bytes(`${VT}MSH|A\x1c`)), []);
  t.same(text(f.push(bytes(`\r${frame('NEXT')}`))), ['MSH|A', 'NEXT']);
  const g = new MllpFramer();
  t.same(g.push(bytes(`${VT}MSH|A\x1c`)), []);
  t.same(text(g.push(bytes(`B${END}`))), ['MSH|A\x1cB'], 'FS not followed by CR stays in the message');
});

t.test('a frame over the cap throws PSL_MLLP_FRAME_TOO_LARGE', async (t) => {
  const f = new MllpFramer({ maxFrameBytes: 10 });
  t.same(text(f.push(bytes(frame('0123456789')))), ['0123456789'], 'exactly the cap is fine');
  t.throws(() => f.push(bytes(frame('01234567890'))), { code: 'PSL_MLLP_FRAME_TOO_LARGE' }, 'complete frame over the cap');
  const g = new MllpFramer({ maxFrameBytes: 10 });
  t.same(g.push(bytes(`${VT}012345`)), []);
  t.throws(() => g.push(bytes('67890')), { code: 'PSL_MLLP_FRAME_TOO_LARGE' }, 'unfinished frame over the cap');
  const h = new MllpFramer({ maxFrameBytes: 10 });
  t.same(text(h.push(bytes(frame('A'.repeat(8)).repeat(50)))), Array(50).fill('A'.repeat(8)), 'many small frames in one large chunk are fine');
  t.throws(() => new MllpFramer({ maxFrameBytes: 0 }), TypeError);
});

t.test('end() reports an unfinished frame (peer half-closed mid-frame)', async (t) => {
  const f = new MllpFramer();
  f.push(bytes(`${VT}MSH|partial`));
  t.same(f.end(), { unfinishedBytes: 11 });
  t.same(f.end(), { unfinishedBytes: 0 });
});

t.test('a byte-by-byte feed of corpus messages yields them intact', async (t) => {
  const src = readFileSync(corpus('hl7v2/hapi/example_oml_o21.hl7'));
  const messages = splitBatch(src).messages;
  t.ok(messages.length > 1, 'file holds several messages');
  const stream = Buffer.concat(messages.map((m) => Buffer.concat([Buffer.from([0x0b]), Buffer.from(m, 'utf8'), Buffer.from([0x1c, 0x0d])])));
  const f = new MllpFramer();
  const out: Uint8Array[] = [];
  for (let i = 0; i < stream.length; i++) out.push(...f.push(stream.subarray(i, i + 1)));
  t.same(out.map((b) => Buffer.from(b).toString('utf8')), messages);
  t.equal(f.stats.bytesIn, stream.length);
  t.equal(f.stats.noiseBytes, 0);
});

t.test('random chunk sizes over many corpus messages (seeded) lose nothing', async (t) => {
  let seed = 0x5eed;
  const rand = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const messages = splitBatch(readFileSync(corpus('hl7v2/mirth-connect/large.hl7'))).messages
    .concat(splitBatch(readFileSync(corpus('hl7v2/hapi/example_oml_o21.hl7'))).messages);
  const stream = Buffer.concat(messages.map((m) => Buffer.from(`\r\n${frame(m)}`, 'utf8')));
  for (let round = 0; round < 5; round++) {
    const f = new MllpFramer({ maxFrameBytes: 4 * 1024 * 1024 });
    const out: Uint8Array[] = [];
    for (let pos = 0; pos < stream.length;) {
      const n = 1 + Math.floor(rand() * (round % 2 ? 16 : 4096));
      out.push(...f.push(new Uint8Array(stream.buffer, stream.byteOffset + pos, Math.min(n, stream.length - pos))));
      pos += n;
    }
    t.same(out.map((b) => Buffer.from(b).toString('utf8')), messages, `round ${round}`);
    t.equal(f.stats.noiseBytes, 2 * messages.length, 'the CRLF before each frame is counted as noise');
  }
});
