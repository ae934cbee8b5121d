import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Caller, IntakePort, NormalizationEvents, Store } from '../../gateway/core/ports.js';
import { OutcomeRouter } from '../outcome-router.js';
import { FeedAuthenticator } from './feed-auth.js';
import type { AckMode } from './hl7-evaluate.js';
import { Hl7Intake } from './hl7-intake.js';
import { MllpConnection, type ConnectionCounters } from './mllp-connection.js';

/** TLS material already read from disk (main.ts resolves paths and secret references). */
export interface MllpTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** CA that client certificates must chain to. */
  ca?: string | Buffer;
  /** Refuse the handshake without a client certificate signed by `ca`. */
  requireClientCert: boolean;
  clientFingerprints?: readonly string[];
  clientSubjects?: readonly string[];
}

/** Options for {@link MllpFeed}; every limit has a safe default (see {@link MLLP_FEED_DEFAULTS}). */
export interface MllpFeedOptions {
  name: string;
  owner: Caller;
  intake: IntakePort;
  log: Logger;
  port: number;
  host?: string;
  tls?: MllpTlsOptions;
  allowFrom?: readonly string[];
  insecure?: boolean;
  allowedMessageTypes?: readonly string[];
  encoding?: string;
  ackMode?: AckMode;
  maxFrameBytes?: number;
  idleTimeoutMs?: number;
  maxConnections?: number;
  /** Open connections from one source address (so one host cannot take every slot). */
  maxConnectionsPerSource?: number;
  /** A frame must complete within this long of its start byte, however steadily bytes arrive. */
  frameTimeoutMs?: number;
  /** Normalization outcomes, for enhanced-mode application ACKs. Without it none are sent. */
  events?: NormalizationEvents;
  /** Read access to stored raws and outcomes: a duplicate's ACK after a restart, a resend's application ACK. */
  originals?: Pick<Store, 'getRaw' | 'findByIdentifier'>;
  /** See Hl7IntakeOptions.msh7WindowMs. Default 0 (off). */
  msh7WindowMs?: number;
  /** MSH-3/MSH-4 of our ACKs when the inbound MSH-5/6 are empty. */
  self?: { application: string; facility: string };
}

// MLLP block: <VT> message <FS><CR> (HL7 v2.5.1 Appendix C).
const VT = Buffer.from([0x0b]);
const FS_CR = Buffer.from([0x1c, 0x0d]);
/** How long a rejected peer gets to read its AR before the socket is destroyed. */
const REJECT_GRACE_MS = 1_000;

export const MLLP_FEED_DEFAULTS = {
  host: '127.0.0.1', maxFrameBytes: 1024 * 1024, idleTimeoutMs: 300_000, maxConnections: 8, maxConnectionsPerSource: 4,
  frameTimeoutMs: 30_000, ackMode: 'auto',
} as const;

/** Feed totals (counts and sizes only). */
export interface MllpFeedStats extends ConnectionCounters {
  connections: number;
  connectionsTotal: number;
  refusedConnections: number;
  tlsFailures: number;
}

/**
 * An MLLP listener for one feed (HL7 v2.5.1 Appendix C) over TCP or TLS. Each connection gets its
 * own framer and is handled sequentially; every message is acknowledged only after the IntakePort
 * has made it durable.
 */
export class MllpFeed {
  readonly name: string;
  readonly #o: MllpFeedOptions & typeof MLLP_FEED_DEFAULTS;
  readonly #handler: Hl7Intake;
  readonly #auth: FeedAuthenticator;
  readonly #appAcks: OutcomeRouter | undefined;
  readonly #server: Server;
  readonly #conns = new Set<MllpConnection>();
  /** Every TCP socket, including TLS handshakes that never completed, so close() can end them all. */
  readonly #sockets = new Set<Socket>();
  /** Sockets holding a slot, in total and per source address. */
  #slots = 0;
  readonly #perSource = new Map<string, number>();
  readonly #releases = new Map<Socket, () => void>();
  readonly #stats: MllpFeedStats = {
    connections: 0, connectionsTotal: 0, refusedConnections: 0, tlsFailures: 0, frames: 0, noiseBytes: 0, noiseRuns: 0, acks: {},
  };

  /** @param options - feed, ports and limits */
  constructor(options: MllpFeedOptions) {
    const o = { ...MLLP_FEED_DEFAULTS, ...stripUndefined(options) } as MllpFeedOptions & typeof MLLP_FEED_DEFAULTS;
    for (const k of ['maxFrameBytes', 'idleTimeoutMs', 'maxConnections', 'maxConnectionsPerSource', 'frameTimeoutMs'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new TypeError(`${k} must be a positive integer`);
    }
    this.#o = o;
    this.name = o.name;
    this.#auth = new FeedAuthenticator({
      owner: o.owner, allowFrom: o.allowFrom ?? [], clientFingerprints: o.tls?.clientFingerprints ?? [],
      clientSubjects: o.tls?.clientSubjects ?? [], insecure: o.insecure === true,
    });
    this.#handler = new Hl7Intake({
      feed: o.name, intake: o.intake, log: o.log, ackMode: o.ackMode,
      ...(o.allowedMessageTypes ? { allowedMessageTypes: o.allowedMessageTypes } : {}),
      ...(o.encoding ? { encoding: o.encoding } : {}), ...(o.self ? { self: o.self } : {}),
      ...(o.originals ? { originals: o.originals } : {}),
      ...(o.msh7WindowMs ? { msh7WindowMs: o.msh7WindowMs } : {}),
    });
    this.#appAcks = o.events ? new OutcomeRouter(o.events) : undefined;
    this.#server = o.tls ? this.#tlsServer(o.tls) : createNetServer({ allowHalfOpen: true });
    this.#server.on('connection', (socket: Socket) => {
      if (!this.#admit(socket)) return;
      if (!o.tls) this.#accept(socket);
    });
  }

  /** Start listening; resolves with the bound address (port 0 picks a free port). */
  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#o.port, this.#o.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const addr = this.address;
    if (this.#o.insecure && !this.#auth.checksCertificate && !(this.#o.allowFrom?.length)) {
      this.#o.log.warn({ feed: this.name }, 'MLLP feed is insecure: plaintext and no source-address allow-list (insecure: true)');
    }
    this.#o.log.info({ feed: this.name, host: addr.host, port: addr.port, tls: this.#o.tls !== undefined }, 'MLLP feed listening');
    return addr;
  }

  /** Bound address (after {@link listen}). */
  get address(): { host: string; port: number } {
    const a = this.#server.address() as AddressInfo | null;
    return { host: a?.address ?? this.#o.host, port: a?.port ?? this.#o.port };
  }

  /** Counters since start. */
  get stats(): Readonly<MllpFeedStats> {
    return { ...this.#stats, acks: { ...this.#stats.acks } };
  }

  /**
   * Stop accepting; let each connection finish the frames it already read (their ACKs are owed),
   * then close. Connections still busy after `graceMs` are destroyed.
   * @param graceMs - how long to wait for in-flight work
   */
  async close(graceMs = 5_000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const c of this.#conns) c.shutdown();
    const drained = Promise.all([...this.#conns].map((c) => c.idle));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs); })]);
    clearTimeout(timer);
    for (const c of this.#conns) c.destroy();
    for (const s of this.#sockets) s.destroy();
    await closed;
    this.#appAcks?.close();
  }

  #tlsServer(tls: MllpTlsOptions): Server {
    const server = createTlsServer({
      cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}),
      requestCert: tls.requireClientCert || this.#auth.checksCertificate,
      // The handshake itself refuses certificates that do not chain to the feed CA.
      rejectUnauthorized: tls.requireClientCert,
      minVersion: 'TLSv1.2',
      allowHalfOpen: true,
    }, (s: TLSSocket) => this.#accept(s));
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      this.#stats.tlsFailures++;
      this.#o.log.warn({ feed: this.name, code: err.code, remote: socket.remoteAddress }, 'MLLP TLS handshake refused');
    });
    return server;
  }

  /**
   * At TCP accept, before TLS and before a slot is taken: a source off the allow-list is dropped
   * at once, then the per-source and per-feed limits apply. Slowloris peers from elsewhere thus
   * never hold a slot the owner needs.
   */
  #admit(socket: Socket): boolean {
    const remote = socket.remoteAddress ?? '';
    const refuse = (why: string, fields: Record<string, unknown>): false => {
      this.#stats.refusedConnections++;
      this.#o.log.warn({ feed: this.name, remote, ...fields }, why);
      socket.destroy();
      return false;
    };
    if (!this.#auth.addressAllowed(remote)) return refuse('MLLP connection refused: source address not on the allow-list', { code: 'PSL_FORBIDDEN' });
    const fromSource = this.#perSource.get(remote) ?? 0;
    if (fromSource >= this.#o.maxConnectionsPerSource) return refuse('MLLP connection refused: maxConnectionsPerSource reached', { max: this.#o.maxConnectionsPerSource });
    if (this.#slots >= this.#o.maxConnections) return refuse('MLLP connection refused: maxConnections reached', { max: this.#o.maxConnections });
    this.#slots++;
    this.#perSource.set(remote, fromSource + 1);
    this.#sockets.add(socket);
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      this.#slots--;
      const n = (this.#perSource.get(remote) ?? 1) - 1;
      if (n <= 0) this.#perSource.delete(remote);
      else this.#perSource.set(remote, n);
    };
    this.#releases.set(socket, release);
    socket.once('close', () => {
      release();
      this.#releases.delete(socket);
      this.#sockets.delete(socket);
    });
    return true;
  }

  #accept(socket: Socket): void {
    const auth = this.#auth.authorize(socket);
    const remote = socket.remoteAddress;
    const log = this.#o.log.child({ feed: this.name, remote });
    if (!auth.ok) {
      // Certificate not the owner's: one AR says why, the slot is given back now, and the socket
      // gets a short grace to flush it before it is destroyed.
      log.warn({ code: auth.code, reason: auth.reason }, 'MLLP connection not authenticated; rejected');
      this.#stats.refusedConnections++;
      const raw = (socket as Socket & { _parent?: Socket })._parent ?? socket;
      this.#releases.get(raw)?.();
      this.#releases.get(socket)?.();
      socket.on('error', () => undefined);
      socket.end(Buffer.concat([VT, this.#handler.reject(auth.code, auth.reason), FS_CR]));
      setTimeout(() => socket.destroy(), REJECT_GRACE_MS).unref();
      return;
    }
    log.info({ via: auth.via }, 'MLLP connection accepted');
    this.#stats.connections++;
    this.#stats.connectionsTotal++;
    const conn = new MllpConnection({
      socket, auth, handler: this.#handler, appAcks: this.#appAcks, maxFrameBytes: this.#o.maxFrameBytes,
      idleTimeoutMs: this.#o.idleTimeoutMs, frameTimeoutMs: this.#o.frameTimeoutMs, log, counters: this.#stats,
    });
    this.#conns.add(conn);
    socket.once('close', () => {
      this.#conns.delete(conn);
      this.#stats.connections--;
    });
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
