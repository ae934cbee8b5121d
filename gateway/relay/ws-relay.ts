/**
 * WebSocket relay on hapi's listener (`ws`, noServer): authenticates the bearer token on the
 * HTTP upgrade, before any frame (401 otherwise); pushes each device's queue under leases while
 * the socket keeps up (bufferedAmount high-water mark: pushing pauses until the last frame is
 * flushed); takes acks and signed rejections; forwards receipts to senders; pings every
 * heartbeat and terminates peers that missed a pong.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { RejectedReceipt } from '../../protocol/crypto/rejected-receipt.js';
import { bearerToken, type TokenTable } from '../http/auth.js';
import type { Logger } from '../log.js';
import { httpStatusOf, wsCloseOf, type ErrorCode } from '../../protocol/errors.js';
import { acceptedFrame, errorFrame, parseClientFrame, receiptFrame } from '../../protocol/ws-frames.js';
import type { Relay } from './relay.js';
import type { DeliveredReceipt } from '../../protocol/receipts.js';

const utf8 = new TextEncoder();

/** Options; every limit has a default. */
export interface WsRelayOptions {
  relay: Relay;
  tokens: TokenTable;
  log: Logger;
  /** Largest inbound frame (ws closes with 1009 past it). */
  maxPayload: number;
  heartbeatMs?: number;
  highWaterBytes?: number;
  /** Unacked deliveries per connection. */
  maxInFlight?: number;
  /** Re-check queues this often (lease expiries, other gateway processes). */
  pollMs?: number;
}

interface Conn {
  readonly ws: WebSocket;
  readonly participant: string;
  readonly device: string;
  readonly inflight: Set<string>;
  alive: boolean;
  pumping: boolean;
  again: boolean;
  closed: boolean;
  flushed: Promise<void>;
}

/** The ws endpoint `/v1/ws?device=<deviceId>`. */
export class WsRelay {
  readonly #o: Required<WsRelayOptions>;
  readonly #wss: WebSocketServer;
  readonly #conns = new Set<Conn>();
  readonly #timers: NodeJS.Timeout[] = [];
  #listener: HttpServer | undefined;
  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.#upgrade(req, socket, head);
  readonly #onEnqueued = (queue: string): void => {
    for (const c of this.#conns) if (`dev:${c.participant}:${c.device}` === queue) this.#pump(c);
  };
  readonly #onReceipt = (r: DeliveredReceipt | RejectedReceipt): void => {
    const frame = receiptFrame(r);
    for (const c of this.#conns) if (c.participant === r.sender && !c.closed) c.ws.send(frame);
  };

  /** @param options - relay, token table, logger, limits */
  constructor(options: WsRelayOptions) {
    this.#o = { heartbeatMs: 30_000, highWaterBytes: 1024 * 1024, maxInFlight: 64, pollMs: 2000, ...options };
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload, perMessageDeflate: false, clientTracking: false });
  }

  /**
   * Start handling upgrades on hapi's listener, heartbeats and queue polling.
   * @param listener - `server.listener` of the hapi server
   */
  attach(listener: HttpServer): void {
    this.#listener = listener;
    listener.on('upgrade', this.#onUpgrade);
    this.#o.relay.on('enqueued', this.#onEnqueued);
    this.#o.relay.on('delivered', this.#onReceipt);
    this.#o.relay.on('rejected', this.#onReceipt);
    this.#timers.push(setInterval(() => this.#heartbeat(), this.#o.heartbeatMs).unref());
    this.#timers.push(setInterval(() => {
      for (const c of this.#conns) this.#pump(c);
    }, this.#o.pollMs).unref());
  }

  /** Connected devices (metrics, tests). */
  get connections(): number {
    return this.#conns.size;
  }

  /** Close every connection with 1001 and stop. Leases still held are given back. */
  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#listener?.off('upgrade', this.#onUpgrade);
    this.#o.relay.off('enqueued', this.#onEnqueued);
    this.#o.relay.off('delivered', this.#onReceipt);
    this.#o.relay.off('rejected', this.#onReceipt);
    await Promise.all([...this.#conns].map((c) => new Promise<void>((resolve) => {
      c.ws.once('close', () => resolve());
      c.ws.close(wsCloseOf('PSL_SHUTTING_DOWN'), 'shutting down');
      setTimeout(() => { c.ws.terminate(); resolve(); }, 2000).unref();
    })));
    await Promise.all([...this.#conns].map((c) => this.#released(c)));
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname !== '/v1/ws') {
      // Another component may own that path; answer only when nobody else listens for upgrades.
      if ((this.#listener?.listenerCount('upgrade') ?? 0) <= 1) reject(socket, 'PSL_NOT_FOUND', 'not-found');
      return;
    }
    socket.on('error', () => socket.destroy());
    const header = req.headers.authorization;
    const token = bearerToken(header);
    const caller = token === undefined ? undefined : this.#o.tokens.identify(token);
    if (!caller) return reject(socket, header ? 'PSL_AUTH_INVALID' : 'PSL_AUTH_REQUIRED', 'auth');
    const device = url.searchParams.get('device') ?? '';
    const bad = this.#o.relay.deviceCheck(caller.participant, device);
    if (bad) return reject(socket, bad.code, bad.reason);
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#connected(ws, caller.participant, device));
  }

  #connected(ws: WebSocket, participant: string, device: string): void {
    const c: Conn = { ws, participant, device, inflight: new Set(), alive: true, pumping: false, again: false, closed: false, flushed: Promise.resolve() };
    this.#conns.add(c);
    this.#o.log.info({ participant, device }, 'device connected');
    ws.on('pong', () => { c.alive = true; });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        ws.send(errorFrame({ code: 'PSL_BAD_REQUEST', reason: 'binary' }));
        ws.close(wsCloseOf('PSL_BAD_REQUEST'), 'text frames only');
        return;
      }
      this.#frame(c, data.toString()).catch((err: unknown) => {
        this.#o.log.warn({ err, device }, 'frame handling failed');
        if (!c.closed) ws.send(errorFrame({ code: 'PSL_INTERNAL', reason: 'internal' }));
      });
    });
    ws.on('error', (err) => this.#o.log.info({ code: (err as { code?: string }).code, device }, 'ws error'));
    ws.on('close', (code) => {
      c.closed = true;
      this.#conns.delete(c);
      this.#o.log.info({ device, code }, 'device disconnected');
      this.#released(c).catch(() => undefined);
    });
    this.#pump(c);
  }

  async #frame(c: Conn, text: string): Promise<void> {
    const f = parseClientFrame(text);
    if (!f) {
      c.ws.send(errorFrame({ code: 'PSL_BAD_REQUEST', reason: 'malformed' }));
      return;
    }
    if (f.type === 'ack') {
      if (!c.inflight.delete(f.id)) {
        c.ws.send(errorFrame({ code: 'PSL_NOT_FOUND', reason: 'not-in-flight' }));
        return;
      }
      // The slot is free now: keep pushing while the ack's commits run.
      this.#pump(c);
      const out = await this.#o.relay.ack(c.participant, c.device, f.id);
      if (!out.ok && !c.closed) c.ws.send(errorFrame({ code: out.code, reason: out.reason }));
      return;
    }
    if (f.type === 'reject') {
      // Out of the connection's set while the relay checks it: a client that closes right after
      // its last frame must not have the delivery given back before its rejection is recorded.
      if (!c.inflight.delete(f.id)) {
        c.ws.send(errorFrame({ code: 'PSL_NOT_FOUND', reason: 'not-in-flight' }));
        return;
      }
      const out = await this.#o.relay.reject(c.participant, c.device, f.id, f.receipt);
      if (out.ok) {
        this.#pump(c);
        return;
      }
      // Refused (forged, another delivery's): the delivery stays as it was, leased to this
      // connection, or given back if the connection has gone meanwhile.
      if (c.closed) {
        await this.#o.relay.release(c.participant, c.device, f.id);
        return;
      }
      c.inflight.add(f.id);
      c.ws.send(errorFrame({ code: out.code, reason: out.reason }));
      return;
    }
    const out = await this.#o.relay.accept(c.participant, utf8.encode(JSON.stringify(f.envelope)));
    if (c.closed) return;
    c.ws.send(out.ok
      ? acceptedFrame(out.receipt, f.ref)
      : errorFrame({ code: out.code, reason: out.reason, ...(f.ref === undefined ? {} : { ref: f.ref }) }));
  }

  /** Push queued envelopes while the socket keeps up; re-entrant calls just ask for another round. */
  #pump(c: Conn): void {
    if (c.pumping) {
      c.again = true;
      return;
    }
    c.pumping = true;
    this.#pumpLoop(c).catch((err: unknown) => this.#o.log.warn({ err, device: c.device }, 'push failed'))
      .finally(() => {
        c.pumping = false;
        // A wake-up that arrived after the loop's last check must not be lost.
        if (c.again && !c.closed) this.#pump(c);
      });
  }

  async #pumpLoop(c: Conn): Promise<void> {
    const { relay, maxInFlight, highWaterBytes } = this.#o;
    do {
      c.again = false;
      const bad = relay.deviceCheck(c.participant, c.device);
      if (bad) {
        c.ws.send(errorFrame({ code: bad.code, reason: bad.reason }));
        c.ws.close(wsCloseOf(bad.code), bad.reason);
        return;
      }
      while (!c.closed && c.inflight.size < maxInFlight) {
        // Back-pressure: a slow reader must not make us buffer its whole queue in memory.
        if (c.ws.bufferedAmount >= highWaterBytes) await c.flushed;
        if (c.closed) break;
        const d = await relay.claimNext(c.participant, c.device);
        if (!d) break;
        if (c.closed) {
          await relay.release(c.participant, c.device, d.id);
          break;
        }
        c.inflight.add(d.id);
        c.flushed = new Promise((resolve) => c.ws.send(d.frame, () => resolve()));
      }
    } while (c.again && !c.closed);
  }

  async #released(c: Conn): Promise<void> {
    const ids = [...c.inflight];
    c.inflight.clear();
    for (const id of ids) await this.#o.relay.release(c.participant, c.device, id);
  }

  #heartbeat(): void {
    for (const c of this.#conns) {
      if (!c.alive) {
        this.#o.log.info({ device: c.device }, 'heartbeat missed; terminating');
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }
}

/** Refuse an upgrade with a plain HTTP answer (the registry's status) and a JSON body naming the code (no frame is sent). */
function reject(socket: Duplex, code: ErrorCode, reason: string): void {
  const status = httpStatusOf(code);
  const body = JSON.stringify({ error: { code, reason } });
  const text = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[status] ?? 'Bad Request';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
    + (status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '') + `\r\n${body}`);
}
