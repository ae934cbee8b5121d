import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { isGatewayError } from '../../protocol/errors.js';
import type { NormalizationOutcome } from '../../gateway/core/ports.js';
import type { OutcomeRouter } from '../outcome-router.js';
import type { AuthDecision } from './feed-auth.js';
import type { Hl7Intake, Hl7Reply } from './hl7-intake.js';
import { MllpFramer } from './mllp-framer.js';

// MLLP block: <VT> message <FS><CR> (HL7 v2.5.1 Appendix C, C.4.3).
const VT = Buffer.from([0x0b]);
const FS_CR = Buffer.from([0x1c, 0x0d]);
/** Frames waiting behind the one being stored before the socket is paused (back-pressure). */
const HIGH_WATER = 64;
/** Noise runs logged per connection before only counting them. */
const NOISE_LOG_MAX = 8;

/** Counters one connection adds to its feed's totals. */
export interface ConnectionCounters {
  frames: number;
  noiseBytes: number;
  noiseRuns: number;
  acks: Record<string, number>;
}

/** Options for {@link MllpConnection}. */
export interface MllpConnectionOptions {
  socket: Socket;
  auth: AuthDecision;
  handler: Hl7Intake;
  appAcks: OutcomeRouter | undefined;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  /** A frame must end within this long of its <VT>, however steadily its bytes trickle in. */
  frameTimeoutMs: number;
  log: Logger;
  counters: ConnectionCounters;
}

type Item = { kind: 'frame'; bytes: Uint8Array } | { kind: 'too-large' };

/**
 * One MLLP connection: frames are handled strictly one at a time, so ACKs go out in the order the
 * messages came in (Appendix C: the sender waits for each ACK; we never reorder when it does not).
 * Each ACK is written only after the IntakePort said the raw is durable.
 */
export class MllpConnection {
  readonly #o: MllpConnectionOptions;
  readonly #framer: MllpFramer;
  readonly #queue: Item[] = [];
  readonly #cancels = new Set<() => void>();
  #busy = false;
  #peerEnded = false;
  #closing = false;
  #noiseRuns = 0;
  #noiseBytes = 0;
  #idle: Promise<void> = Promise.resolve();
  #settleIdle: (() => void) | undefined;
  #frameTimer: NodeJS.Timeout | undefined;

  /** @param options - socket, its authentication verdict and the feed's handler and limits */
  constructor(options: MllpConnectionOptions) {
    this.#o = options;
    this.#framer = new MllpFramer({ maxFrameBytes: options.maxFrameBytes });
    const s = options.socket;
    s.setNoDelay(true); // ACKs are small; Nagle plus delayed ACK would add ~40 ms per message.
    s.setTimeout(options.idleTimeoutMs);
    s.on('data', (chunk: Buffer) => this.#onData(chunk));
    s.on('end', () => this.#onEnd());
    s.on('timeout', () => this.#onTimeout());
    s.on('error', (err: NodeJS.ErrnoException) => options.log.debug({ code: err.code }, 'MLLP socket error'));
    s.on('close', () => {
      clearTimeout(this.#frameTimer);
      if (this.#cancels.size > 0) options.log.info({ count: this.#cancels.size }, 'application ACKs abandoned: connection closed');
      for (const cancel of this.#cancels) cancel();
      this.#cancels.clear();
      this.#settleIdle?.();
    });
  }

  /** Resolves when nothing is queued or in flight. */
  get idle(): Promise<void> {
    return this.#idle;
  }

  /** Stop reading, finish what is queued (its ACKs are owed), then close. */
  shutdown(): void {
    this.#closing = true;
    this.#o.socket.pause();
    if (!this.#busy && this.#queue.length === 0) this.#o.socket.end();
  }

  /** Close now (after the shutdown grace period). */
  destroy(): void {
    this.#o.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    let frames: Uint8Array[];
    try {
      frames = this.#framer.push(chunk);
    } catch (err) {
      if (!isGatewayError(err) || err.code !== 'PSL_MLLP_FRAME_TOO_LARGE') {
        this.#o.log.error({ err }, 'MLLP framing failed; closing');
        this.#o.socket.destroy();
        return;
      }
      this.#o.log.warn({ code: err.code, limit: this.#o.maxFrameBytes, offset: this.#framer.stats.bytesIn }, 'MLLP frame over the cap; rejecting and closing');
      this.#o.socket.pause();
      this.#enqueue({ kind: 'too-large' });
      return;
    }
    this.#logNoise();
    this.#armFrameDeadline(frames.length > 0);
    for (const bytes of frames) this.#enqueue({ kind: 'frame', bytes });
    if (this.#queue.length > HIGH_WATER) this.#o.socket.pause();
  }

  #enqueue(item: Item): void {
    this.#queue.push(item);
    if (!this.#busy) {
      this.#idle = new Promise((resolve) => { this.#settleIdle = resolve; });
      this.#pump().catch((err: unknown) => {
        this.#o.log.error({ err }, 'MLLP connection failed');
        this.#o.socket.destroy();
      });
    }
  }

  async #pump(): Promise<void> {
    this.#busy = true;
    try {
      for (let item = this.#queue.shift(); item; item = this.#queue.shift()) {
        if (this.#queue.length < HIGH_WATER / 2 && !this.#closing && this.#o.socket.isPaused()) this.#o.socket.resume();
        if (item.kind === 'too-large') {
          this.#write(this.#o.handler.reject('PSL_MLLP_FRAME_TOO_LARGE', 'MLLP frame exceeds the feed maxFrameBytes'), 'AR');
          this.#queue.length = 0;
          this.#o.socket.end();
          return;
        }
        this.#o.counters.frames++;
        if (isBlank(item.bytes)) {
          // <VT><FS><CR>: nothing to store or to resend; the sender's frame builder is at fault.
          this.#o.log.warn({ bytes: item.bytes.length }, 'empty MLLP frame rejected');
          this.#write(this.#o.handler.reject('PSL_PAYLOAD_EMPTY', 'MLLP frame is empty: it holds no HL7 message'), 'AR');
          continue;
        }
        const reply = await this.#o.handler.handle(item.bytes, { auth: this.#o.auth });
        await this.#answer(reply);
        if (!this.#o.auth.ok) {
          // One reject tells an unauthenticated peer why; nothing more is read from it.
          this.#queue.length = 0;
          this.#o.socket.end();
          return;
        }
      }
      if (this.#peerEnded || this.#closing) this.#o.socket.end();
    } finally {
      this.#busy = false;
      this.#settleIdle?.();
    }
  }

  /**
   * The commit ACK now; each application ACK when its outcome is known. A resend's outcome may be
   * stored already: it is read here, inside the pump, so that application ACK leaves before the
   * next frame's answer. The waiter is registered first, so an outcome published during the read
   * is not missed; `done` makes sure only one of the two sends.
   */
  async #answer(reply: Hl7Reply): Promise<void> {
    if (reply.bytes) this.#write(reply.bytes, reply.codes.join(','));
    for (const req of reply.appAcks) {
      let done = false;
      let cancel: (() => void) | undefined;
      const send = (outcome: NormalizationOutcome): void => {
        if (done) return;
        done = true;
        if (cancel) this.#cancels.delete(cancel);
        const ack = this.#o.handler.appAck(req, outcome);
        if (!ack) return;
        if (this.#o.socket.writable) this.#write(ack, outcome.ok ? 'AA' : 'AE');
        else this.#o.log.info({ rawId: req.rawId }, 'application ACK skipped: connection gone');
      };
      cancel = this.#o.appAcks?.expect(req.rawId, send);
      if (cancel && !done) this.#cancels.add(cancel);
      if (!req.replay || done) continue;
      const outcome = await this.#o.handler.outcomeOf(req.rawId);
      if (outcome && !done) {
        cancel?.();
        send(outcome);
      }
    }
  }

  /**
   * Slowloris guard: the idle timer restarts with every byte, so a frame also gets an absolute
   * deadline counted from its <VT>. Restarted when a frame completed in this chunk (the open one
   * began in it); cleared when no frame is open.
   */
  #armFrameDeadline(completed: boolean): void {
    if (!this.#framer.inProgress) {
      clearTimeout(this.#frameTimer);
      this.#frameTimer = undefined;
      return;
    }
    if (this.#frameTimer && !completed) return;
    clearTimeout(this.#frameTimer);
    this.#frameTimer = setTimeout(() => this.#onFrameDeadline(), this.#o.frameTimeoutMs);
    this.#frameTimer.unref();
  }

  #onFrameDeadline(): void {
    this.#frameTimer = undefined;
    if (this.#o.socket.isPaused()) {
      // We stopped reading (back-pressure), so the sender is not to blame yet.
      this.#frameTimer = setTimeout(() => this.#onFrameDeadline(), this.#o.frameTimeoutMs);
      this.#frameTimer.unref();
      return;
    }
    this.#o.log.warn({ ms: this.#o.frameTimeoutMs }, 'MLLP frame not completed within frameTimeoutMs; closing');
    this.#queue.length = 0;
    this.#o.socket.destroy();
  }

  #write(bytes: Buffer, codes: string): void {
    for (const c of codes.split(',')) if (c) this.#o.counters.acks[c] = (this.#o.counters.acks[c] ?? 0) + 1;
    if (!this.#o.socket.writable) {
      // Stored but unacknowledged: the sender retransmits and gets the original ACK replayed.
      this.#o.log.info({ bytes: bytes.length }, 'connection gone before the ACK could be written');
      return;
    }
    if (!this.#o.socket.write(Buffer.concat([VT, bytes, FS_CR]))) {
      // A peer that sends without reading its ACKs: stop reading until it catches up.
      this.#o.socket.pause();
      this.#o.socket.once('drain', () => {
        if (!this.#closing && this.#queue.length < HIGH_WATER) this.#o.socket.resume();
      });
    }
  }

  #logNoise(): void {
    const st = this.#framer.stats;
    this.#o.counters.noiseBytes += st.noiseBytes - this.#noiseBytes;
    this.#noiseBytes = st.noiseBytes;
    const fresh = st.noiseRuns - this.#noiseRuns;
    if (fresh <= 0) return;
    this.#o.counters.noiseRuns += fresh;
    const room = NOISE_LOG_MAX - this.#noiseRuns;
    // Offsets, lengths and byte classes only: enough to diagnose a peer, never the bytes.
    for (const run of this.#framer.recentNoise.slice(-fresh).slice(0, Math.max(0, room))) {
      this.#o.log.warn({ offset: run.offset, bytes: run.length, classes: run.classes, kind: run.kind }, 'MLLP bytes outside a frame skipped');
    }
    this.#noiseRuns = st.noiseRuns;
  }

  #onEnd(): void {
    this.#peerEnded = true;
    const { unfinishedBytes } = this.#framer.end();
    this.#logNoise();
    if (unfinishedBytes > 0) this.#o.log.warn({ bytes: unfinishedBytes }, 'peer closed mid-frame; partial frame dropped (never acknowledged)');
    if (!this.#busy && this.#queue.length === 0) this.#o.socket.end();
  }

  #onTimeout(): void {
    if (this.#busy || this.#queue.length > 0) return; // waiting on the store is not idleness
    this.#o.log.info({ ms: this.#o.idleTimeoutMs }, 'MLLP connection idle; closing');
    this.#o.socket.end();
    setTimeout(() => this.#o.socket.destroy(), 2_000).unref();
  }
}

/** Nothing but CR, LF or spaces between <VT> and <FS><CR>. */
function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0x0d && b !== 0x0a && b !== 0x20) return false;
  return true;
}
