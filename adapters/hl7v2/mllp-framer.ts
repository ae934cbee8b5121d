import { GatewayError } from '../../protocol/errors.js';

// MLLP block: <VT> message <FS><CR> (HL7 v2.5.1 Appendix C, C.4.3).
const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

/** Coarse class of a skipped byte: enough to diagnose a misconfigured peer, never the content. */
export type NoiseByteClass = 'printable' | 'whitespace' | 'control' | 'high' | 'frame-char';

/** One run of bytes skipped outside a frame (or a frame abandoned by a new <VT>). */
export interface NoiseRun {
  /** Offset of the first skipped byte in the connection's byte stream. */
  readonly offset: number;
  readonly length: number;
  /** Distinct classes of the skipped bytes, in first-seen order. */
  readonly classes: readonly NoiseByteClass[];
  /** `between-frames`: bytes outside any block; `abandoned`: a partial block cut short by a new <VT>. */
  readonly kind: 'between-frames' | 'abandoned';
}

/** Counters for metrics and logs (sizes and counts only). */
export interface MllpFramerStats {
  bytesIn: number;
  frames: number;
  frameBytes: number;
  noiseBytes: number;
  noiseRuns: number;
  abandonedFrames: number;
}

/** Options for {@link MllpFramer}; every limit has a safe default. */
export interface MllpFramerOptions {
  /** Largest accepted message between <VT> and <FS><CR>, in bytes. Default 1 MiB. */
  maxFrameBytes?: number;
  /** How many recent noise runs to keep for diagnostics. Default 16. */
  keepNoiseRuns?: number;
}

/** Defaults applied by {@link MllpFramer}: 1 MiB cap, 16 noise runs kept. */
export const MLLP_FRAMER_DEFAULTS = { maxFrameBytes: 1024 * 1024, keepNoiseRuns: 16 } as const;

/**
 * Per-connection MLLP de-framer. Feed it socket chunks; it returns complete messages and keeps the
 * remainder. Each byte is examined once: the unfinished frame is kept as a list of chunk views and
 * joined only when its <FS><CR> arrives, so many small chunks cost O(n), not O(n²).
 * Returned frames may share memory with the pushed chunks; copy them if the chunks are reused.
 */
export class MllpFramer {
  readonly maxFrameBytes: number;
  private readonly keepNoiseRuns: number;
  private readonly stats_: MllpFramerStats = { bytesIn: 0, frames: 0, frameBytes: 0, noiseBytes: 0, noiseRuns: 0, abandonedFrames: 0 };
  private readonly noise: NoiseRun[] = [];
  private inFrame = false;
  /** The previous chunk ended with <FS> inside a frame: a leading <CR> next time closes the frame. */
  private pendingFs = false;
  private parts: Buffer[] = [];
  private partBytes = 0;
  private frameStartOffset = 0;
  /** Noise run being accumulated (it may span chunks). */
  private noiseStart = -1;
  private noiseLength = 0;
  private noiseClasses: NoiseByteClass[] = [];

  /** @param options - limits; see {@link MLLP_FRAMER_DEFAULTS} */
  constructor(options: MllpFramerOptions = {}) {
    const opts = { ...MLLP_FRAMER_DEFAULTS, ...options };
    if (!Number.isInteger(opts.maxFrameBytes) || opts.maxFrameBytes < 1) throw new TypeError('maxFrameBytes must be a positive integer');
    if (!Number.isInteger(opts.keepNoiseRuns) || opts.keepNoiseRuns < 0) throw new TypeError('keepNoiseRuns must be a non-negative integer');
    this.maxFrameBytes = opts.maxFrameBytes;
    this.keepNoiseRuns = opts.keepNoiseRuns;
  }

  /**
   * Consume one chunk and return the messages it completes (without <VT>, <FS>, <CR>).
   * @param chunk - bytes as read from the socket
   * @throws GatewayError PSL_MLLP_FRAME_TOO_LARGE when a message exceeds maxFrameBytes. The caller
   *   answers a reject and closes; frames completed earlier in the same chunk are not returned,
   *   which is safe because they were never acknowledged (the sender retransmits them).
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const base = this.stats_.bytesIn;
    this.stats_.bytesIn += buf.length;
    const frames: Uint8Array[] = [];
    let pos = 0;
    if (this.pendingFs && buf.length > 0) {
      this.pendingFs = false;
      if (buf[0] === CR) {
        frames.push(this.finish(this.parts, this.partBytes - 1));
        pos = 1;
      }
    }
    while (pos < buf.length) {
      if (!this.inFrame) {
        const vt = buf.indexOf(VT, pos);
        if (vt === -1) {
          this.addNoise(buf, pos, buf.length, base);
          return frames;
        }
        if (vt > pos) this.addNoise(buf, pos, vt, base);
        this.closeNoise('between-frames');
        this.inFrame = true;
        this.frameStartOffset = base + vt;
        pos = vt + 1;
        continue;
      }
      const end = this.scanFrame(buf, pos, base);
      if (end.kind === 'open') return frames;
      if (end.kind === 'restart') {
        pos = end.at;
        continue;
      }
      const tail = buf.subarray(pos, end.fs);
      this.parts.push(tail);
      frames.push(this.finish(this.parts, this.partBytes + tail.length));
      pos = end.fs + 2;
    }
    return frames;
  }

  /**
   * The peer closed. Reports how many bytes of an unfinished frame were dropped (0 when the stream
   * ended cleanly) and resets the framer.
   */
  end(): { unfinishedBytes: number } {
    const unfinishedBytes = this.inFrame ? this.partBytes : 0;
    this.closeNoise('between-frames');
    this.reset();
    return { unfinishedBytes };
  }

  /** Counters since construction. */
  get stats(): Readonly<MllpFramerStats> {
    return { ...this.stats_ };
  }

  /** True while a block has started (<VT> seen) and not yet ended: a frame is being received. */
  get inProgress(): boolean {
    return this.inFrame;
  }

  /** The most recent noise runs (offsets, lengths, byte classes; never bytes). */
  get recentNoise(): readonly NoiseRun[] {
    return [...this.noise];
  }

  /** Look for <FS><CR> (or a restarting <VT>) from pos; buffers the chunk's tail when the frame stays open. */
  private scanFrame(buf: Buffer, pos: number, base: number):
    { kind: 'open' } | { kind: 'restart'; at: number } | { kind: 'end'; fs: number } {
    let from = pos;
    const vt = buf.indexOf(VT, pos);
    const limit = vt === -1 ? buf.length : vt;
    for (;;) {
      const fs = buf.indexOf(FS, from);
      if (fs === -1 || fs >= limit) break;
      if (fs + 1 < buf.length && buf[fs + 1] === CR) return { kind: 'end', fs };
      if (fs + 1 === buf.length) {
        this.pendingFs = true;
        this.keep(buf.subarray(pos));
        return { kind: 'open' };
      }
      from = fs + 1; // a lone <FS> is content; only <FS><CR> ends the block
    }
    if (vt !== -1) {
      // A new block started before this one ended: the partial block is noise.
      const abandonedFrom = this.frameStartOffset;
      const length = this.partBytes + (vt - pos) + 1;
      this.stats_.abandonedFrames++;
      this.recordNoise({ offset: abandonedFrom, length, classes: ['frame-char'], kind: 'abandoned' });
      this.parts = [];
      this.partBytes = 0;
      this.frameStartOffset = base + vt;
      return { kind: 'restart', at: vt + 1 };
    }
    this.keep(buf.subarray(pos));
    return { kind: 'open' };
  }

  private keep(part: Buffer): void {
    this.checkCap(this.partBytes + part.length - (this.pendingFs ? 1 : 0));
    if (part.length === 0) return;
    this.parts.push(part);
    this.partBytes += part.length;
  }

  private checkCap(bytes: number): void {
    if (bytes <= this.maxFrameBytes) return;
    this.reset();
    throw new GatewayError('PSL_MLLP_FRAME_TOO_LARGE', `MLLP frame exceeds ${this.maxFrameBytes} bytes`);
  }

  /** Join parts into one frame of `length` bytes (a trailing <FS> in the last part is cut off). */
  private finish(parts: Buffer[], length: number): Uint8Array {
    this.checkCap(length);
    const frame = parts.length === 1 ? parts[0]!.subarray(0, length) : Buffer.concat(parts, length);
    this.parts = [];
    this.partBytes = 0;
    this.inFrame = false;
    this.countFrame(length);
    return frame;
  }

  private countFrame(length: number): void {
    this.stats_.frames++;
    this.stats_.frameBytes += length;
  }

  private addNoise(buf: Buffer, from: number, to: number, base: number): void {
    if (this.noiseStart === -1) this.noiseStart = base + from;
    this.noiseLength += to - from;
    this.stats_.noiseBytes += to - from;
    const seen = this.noiseClasses;
    for (let i = from; i < to && seen.length < 5; i++) {
      const c = classify(buf[i]!);
      if (!seen.includes(c)) seen.push(c);
    }
  }

  private closeNoise(kind: NoiseRun['kind']): void {
    if (this.noiseStart === -1) return;
    this.recordNoise({ offset: this.noiseStart, length: this.noiseLength, classes: this.noiseClasses, kind });
    this.noiseStart = -1;
    this.noiseLength = 0;
    this.noiseClasses = [];
  }

  private recordNoise(run: NoiseRun): void {
    this.stats_.noiseRuns++;
    if (run.kind === 'abandoned') this.stats_.noiseBytes += run.length;
    if (this.keepNoiseRuns === 0) return;
    if (this.noise.length === this.keepNoiseRuns) this.noise.shift();
    this.noise.push(run);
  }

  private reset(): void {
    this.inFrame = false;
    this.pendingFs = false;
    this.parts = [];
    this.partBytes = 0;
  }
}

function classify(b: number): NoiseByteClass {
  if (b === FS || b === CR || b === VT) return b === CR ? 'whitespace' : 'frame-char';
  if (b === 0x20 || b === 0x09 || b === 0x0a) return 'whitespace';
  if (b < 0x20 || b === 0x7f) return 'control';
  return b >= 0x80 ? 'high' : 'printable';
}
