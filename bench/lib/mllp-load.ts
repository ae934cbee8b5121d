/**
 * Enhanced-mode MLLP load for the pipeline bench: persistent connections that each send one
 * message, wait for its commit ACK (CA), then send the next at the paced time, while application
 * ACKs (AA/AE, after normalization) arrive on the same connection whenever the gateway has them.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MllpFramer } from '../../adapters/hl7v2/mllp-framer.js';
import type { GeneratedMessage } from './patient-messages.js';

const VT = Buffer.from([0x0b]);
const FS_CR = Buffer.from([0x1c, 0x0d]);

/** MSA-1 and MSA-2 of an ACK frame, or undefined when it has no MSA. */
function readMsa(frame: Uint8Array): { code: string; controlId: string } | undefined {
  const text = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('latin1');
  const at = text.indexOf('\rMSA');
  if (at === -1) return undefined;
  const end = text.indexOf('\r', at + 1);
  const fields = text.slice(at + 1, end === -1 ? undefined : end).split(text[3] ?? '|');
  return { code: fields[1] ?? '', controlId: fields[2] ?? '' };
}

/** Application ACK callback: MSA-2 (the message's MSH-10), MSA-1, and when it arrived (performance.now ms). */
export type AppAckListener = (controlId: string, code: string, at: number) => void;

/** Commit ACK callback, run synchronously on arrival: MSA-1 and when it arrived (performance.now ms). */
export type CommitListener = (code: string, at: number) => void;

/** One sender connection. */
export class MllpSender {
  readonly #socket: Socket;
  readonly #framer = new MllpFramer({ maxFrameBytes: 1024 * 1024 });
  #pending: { controlId: string; onCommit: CommitListener | undefined; resolve: (ack: { code: string; at: number }) => void; reject: (err: Error) => void } | undefined;
  #closed = false;

  private constructor(socket: Socket, onAppAck: AppAckListener) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      const at = performance.now();
      for (const frame of this.#framer.push(chunk)) {
        const msa = readMsa(frame);
        if (!msa) continue;
        if (msa.code.startsWith('C') && this.#pending?.controlId === msa.controlId) {
          const p = this.#pending;
          this.#pending = undefined;
          // Before the next frame of this chunk, which may be the same message's application ACK.
          p.onCommit?.(msa.code, at);
          p.resolve({ code: msa.code, at });
        } else if (msa.code.startsWith('A')) {
          onAppAck(msa.controlId, msa.code, at);
        }
      }
    });
    socket.on('error', () => undefined); // reported through 'close' to the pending send
    socket.on('close', () => {
      this.#closed = true;
      this.#pending?.reject(new Error('MLLP connection closed before the commit ACK'));
      this.#pending = undefined;
    });
  }

  /**
   * Connects to the feed.
   * @param port - the feed's MLLP port on 127.0.0.1
   * @param onAppAck - called for every application ACK on this connection
   */
  static async open(port: number, onAppAck: AppAckListener): Promise<MllpSender> {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    await once(socket, 'connect');
    return new MllpSender(socket, onAppAck);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one message; resolves with the commit ACK's MSA-1 and arrival time.
   * @param message - its MSH-10 is what the commit ACK's MSA-2 must carry
   * @param onCommit - runs when the commit ACK arrives, before any later frame is read (a promise
   *   continuation would run after the application ACK when both come in one chunk)
   */
  send(message: GeneratedMessage, onCommit?: CommitListener): Promise<{ code: string; at: number }> {
    if (this.#closed) return Promise.reject(new Error('MLLP connection closed'));
    if (this.#pending) return Promise.reject(new Error('one message at a time per connection'));
    return new Promise((resolve, reject) => {
      this.#pending = { controlId: message.controlId, onCommit, resolve, reject };
      this.#socket.write(Buffer.concat([VT, message.bytes, FS_CR]));
    });
  }

  close(): void {
    this.#socket.end();
  }
}

/** What one paced sender loop measured. */
export interface SenderResult {
  /** send → commit ACK, ms, one per accepted message. */
  acceptMs: number[];
  /** Commit ACKs other than CA (CE: not stored; CR: refused). */
  notAccepted: number;
  /** The connection failed (closed, or the gateway went away). */
  failed: boolean;
}

/** Options for {@link paced}. */
export interface PacedOptions {
  sender: MllpSender;
  next: () => GeneratedMessage;
  /** Messages per second on this connection; Infinity sends back to back ("max"). */
  rate: number;
  /** performance.now() of the first slot, and when to stop sending. */
  start: number;
  end: number;
  /** Called for every CA as it arrives (synchronously), so the application ACK behind it is awaited. */
  onAccepted: (controlId: string, at: number) => void;
}

/**
 * One connection at a fixed rate, as an MLLP sender behaves: message i is due at start + i/rate,
 * and is sent when due or, if the previous commit ACK came late, as soon as that ACK is in (the
 * sender falls behind instead of queueing on the wire, so achieved < offered shows saturation).
 */
export async function paced(options: PacedOptions): Promise<SenderResult> {
  const { sender, rate } = options;
  const result: SenderResult = { acceptMs: [], notAccepted: 0, failed: false };
  for (let i = 0; ; i++) {
    const due = Number.isFinite(rate) ? options.start + (i * 1000) / rate : performance.now();
    const wait = due - performance.now();
    if (due >= options.end) break;
    if (wait > 1) await sleep(wait);
    const message = options.next();
    const sentAt = performance.now();
    let ack: { code: string; at: number };
    try {
      ack = await sender.send(message, (code, at) => {
        if (code === 'CA') options.onAccepted(message.controlId, at);
      });
    } catch {
      result.failed = true;
      break;
    }
    if (ack.code === 'CA') {
      result.acceptMs.push(ack.at - sentAt);
    } else {
      result.notAccepted++;
    }
  }
  return result;
}
