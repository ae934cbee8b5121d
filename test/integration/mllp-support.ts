/**
 * Shared by the MLLP integration tests: a hospital-style MLLP sender over real sockets, a feed
 * harness on a real LmdbStore, the dev PKI from certs/dev-ca.sh, and corpus message selection.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { splitBatch } from '../../adapters/hl7v2/batch.js';
import { MllpFeed, type MllpFeedOptions } from '../../adapters/hl7v2/mllp-feed.js';
import { MllpFramer } from '../../adapters/hl7v2/mllp-framer.js';
import { parseHl7, type Hl7Message } from '../../adapters/hl7v2/parse.js';
import type { IntakePort, IntakeRequest, PutRawResult } from '../../gateway/core/ports.js';
import { loadSodium } from '../../protocol/crypto/sodium.js';
import { createLogger } from '../../gateway/log.js';
import { Metrics } from '../../gateway/metrics.js';
import { Intake } from '../../gateway/pipeline/intake.js';
import { AtRestCipher } from '../../gateway/store/at-rest.js';
import { LmdbStore } from '../../gateway/store/lmdb-store.js';
import { LogSink } from '../helpers/gateway.js';
import { corpus, listFiles, REPO_ROOT } from '../helpers/corpus.js';

export const OWNER = { participant: 'chu-lyon', kind: 'hospital' } as const;

/** <VT> body <FS><CR> */
export function frame(body: string | Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0x0b]), typeof body === 'string' ? Buffer.from(body, 'latin1') : Buffer.from(body), Buffer.from([0x1c, 0x0d])]);
}

/** A small ADT^A01 (latin1 text) with the given control ID and optional MSH-15/16/18. */
export function adt(ctrlId: string, options: { type?: string; ack?: [string, string]; charset?: string; pid?: string } = {}): string {
  const [accept, app] = options.ack ?? ['', ''];
  const tail = options.charset !== undefined ? `|||${accept}|${app}|FRA|${options.charset}` : accept || app ? `|||${accept}|${app}` : '';
  return `MSH|^~\\&|HIS|CHU LYON|PASSERELLE|GW|20260101120000||${options.type ?? 'ADT^A01^ADT_A01'}|${ctrlId}|P|2.5.1${tail}\rEVN|A01|20260101120000\rPID|1||${options.pid ?? '12345'}^^^CHU^MR||DOE^JANE||19610615|F\r`;
}

/** A sender that writes raw bytes and reads ACK frames with its own framer. */
export class MllpSender {
  readonly socket: Socket;
  readonly #framer = new MllpFramer({ maxFrameBytes: 16 * 1024 * 1024 });
  readonly #acks: Buffer[] = [];
  readonly #waiting: Array<(b: Buffer | undefined) => void> = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.#framer.push(chunk)) this.#deliver(Buffer.from(f));
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.#waiting.splice(0)) w(undefined);
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, tls?: ConnectionOptions): Promise<MllpSender> {
    const socket = tls
      ? tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...tls })
      : netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once(tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', (err) => {
        socket.destroy();
        reject(err);
      });
    });
    return new MllpSender(socket);
  }

  write(bytes: string | Uint8Array): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Next ACK frame, or undefined if the connection closed first. */
  next(timeoutMs = 10_000): Promise<Buffer | undefined> {
    const ready = this.#acks.shift();
    if (ready) return Promise.resolve(ready);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ACK within the deadline')), timeoutMs);
      this.#waiting.push((b) => {
        clearTimeout(timer);
        resolve(b);
      });
    });
  }

  async send(body: string | Uint8Array): Promise<Buffer | undefined> {
    this.write(frame(body));
    return this.next();
  }

  close(): void {
    this.socket.destroy();
  }

  #deliver(b: Buffer): void {
    const w = this.#waiting.shift();
    if (w) w(b);
    else this.#acks.push(b);
  }
}

/** An ACK parsed with our parser (fails the test loudly when it does not parse). */
export function ack(bytes: Buffer | undefined, encoding: 'latin1' | 'utf-8' = 'latin1'): Hl7Message {
  if (!bytes) throw new Error('no ACK received');
  const r = parseHl7(bytes, { encoding });
  if (!r.ok) throw new Error('ACK does not parse');
  return r.message;
}

/** A feed on a real LmdbStore; `accepted` lists every intake result in order. */
export interface FeedHarness {
  feed: MllpFeed;
  port: number;
  store: LmdbStore;
  accepted: Array<PutRawResult & { req: IntakeRequest }>;
  logs: LogSink;
  close(): Promise<void>;
}

export async function startFeed(options: Partial<MllpFeedOptions> & { intakeOverride?: IntakePort } = {}): Promise<FeedHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'passerelle-mllp-'));
  const sodium = await loadSodium();
  const logs = new LogSink();
  const log = createLogger({ level: 'debug', destination: logs });
  const store = await LmdbStore.open({ path: join(dir, 'lmdb'), cipher: new AtRestCipher(sodium, randomBytes(32)), log });
  const real = new Intake({ store, log, metrics: new Metrics(store, []) });
  const accepted: FeedHarness['accepted'] = [];
  const base = options.intakeOverride ?? real;
  const intake: IntakePort = {
    async accept(req) {
      const r = await base.accept(req);
      accepted.push({ ...r, req });
      return r;
    },
  };
  const { intakeOverride: _ignored, ...rest } = options;
  const feed = new MllpFeed({ name: 'chu-mllp', owner: OWNER, intake, log, port: 0, allowFrom: ['127.0.0.1'], originals: store, ...rest });
  const { port } = await feed.listen();
  return {
    feed, port, store, accepted, logs,
    async close() {
      await feed.close(1_000);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs certs/dev-ca.sh into a temp dir (twice for a second, unrelated CA). */
export function devPki(clients: string[] = ['chu-lyon', 'labo-bioplus']): { dir: string; read(name: string): Buffer; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'passerelle-pki-'));
  execFileSync('sh', [join(REPO_ROOT, 'certs', 'dev-ca.sh'), dir, ...clients], { stdio: 'ignore' });
  return { dir, read: (name) => readFileSync(join(dir, name)), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** ADT and ORU messages from the shared corpus (read in place, never copied), as bytes. */
export function corpusMessages(types: readonly string[] = ['ADT', 'ORU'], max = 40): Buffer[] {
  const files = listFiles(corpus('hl7v2')).filter((f) => /\.(hl7|txt|hl7v2)$/.test(f) && !f.includes('/bad-inputs/') && !f.includes('output'));
  const out: Buffer[] = [];
  for (const file of files) {
    for (const text of splitBatch(readFileSync(file)).messages) {
      const r = parseHl7(text);
      if (!r.ok || r.issues.some((i) => i.severity === 'fatal' || i.severity === 'error')) continue;
      if (!types.includes(r.message.header.messageType.code)) continue;
      out.push(Buffer.from(text.replace(/\r?\n/g, '\r'), 'utf8'));
      if (out.length >= max) return out;
    }
  }
  return out;
}
