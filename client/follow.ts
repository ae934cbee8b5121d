/**
 * `follow`: stay connected to `/v1/ws?device=…` (bearer token on the upgrade), handle each
 * `envelope` frame in arrival order (open → store → ack frame → read receipt; a refused envelope
 * gets a signed `reject` frame instead of the ack), report the `delivered` and `rejected` receipts
 * for our own envelopes, and reconnect with capped backoff when the connection drops. Frames are
 * processed one at a time so acks follow durable storage in order.
 */
import { WebSocket } from 'ws';
import { codeForStatus, ERROR_REGISTRY, GatewayError, wsCloseOf, type ErrorCode } from '../protocol/errors.js';
import { parseRejectedReceipt, type RejectReason } from '../protocol/crypto/rejected-receipt.js';
import { ackFrame, parseServerFrame, rejectFrame } from '../protocol/ws-frames.js';
import type { DeliveryAnswer, PasserelleClient } from './client.js';
import { receiptValid } from './gateway-receipts.js';
import type { ReceiveOutcome } from './receive.js';
import { rejectionVerified } from './rejection.js';

/** Events a follower reports. */
export type FollowEvent =
  | { kind: 'connected' }
  | { kind: 'disconnected'; code: number; retryInMs: number }
  | { kind: 'outcome'; outcome: ReceiveOutcome }
  | { kind: 'delivered'; id: string; participant: string; device: string; at: number; verified: boolean }
  /** A recipient device refused our envelope; `verified`: signed by that device's key as our directory view has it. */
  | { kind: 'rejected'; id: string; participant: string; device: string; reason: RejectReason; at: number; verified: boolean }
  | { kind: 'error'; code: string; reason: string };

/** Options for follow. */
export interface FollowOptions {
  readonly signal?: AbortSignal;
  /** Called for every event, in order; awaited. */
  readonly onEvent: (e: FollowEvent) => void | Promise<void>;
  /** Stop after this many deliveries were handled (scripts, tests). */
  readonly count?: number;
  /** Backoff ceiling between reconnects; default 30 s. */
  readonly maxBackoffMs?: number;
}

type Json = Record<string, unknown>;

/**
 * Follow until the signal aborts or `count` deliveries were handled.
 * @param client - an opened client with a gateway configured
 * @param o - event sink, signal, count
 * @returns how many deliveries were handled
 */
export async function follow(client: PasserelleClient, o: FollowOptions): Promise<number> {
  const done = { n: 0 };
  let backoff = 500;
  const max = o.maxBackoffMs ?? 30_000;
  const enough = (): boolean => o.count !== undefined && done.n >= o.count;
  while (!o.signal?.aborted && !enough()) {
    const result = await session(client, o, done);
    if (result.fatal) throw result.fatal;
    if (o.signal?.aborted || enough()) break;
    // A clean drop after a good session retries quickly; failures (ours or the gateway's) back off.
    backoff = result.opened && !result.failed ? 500 : Math.min(max, backoff * 2);
    await o.onEvent({ kind: 'disconnected', code: result.code, retryInMs: backoff });
    await sleep(backoff, o.signal);
  }
  return done.n;
}

/** One connection; resolves when it closes. */
function session(client: PasserelleClient, o: FollowOptions, done: { n: number }): Promise<{ opened: boolean; failed: boolean; code: number; fatal?: Error }> {
  return new Promise((resolve) => {
    const api = client.api;
    const ws = new WebSocket(api.wsUrl, { headers: { authorization: api.authorization } });
    let opened = false;
    let failed = false;
    let fatal: Error | undefined;
    let chain: Promise<void> = Promise.resolve();
    const stop = (): void => ws.close(1000, 'client stopping');
    o.signal?.addEventListener('abort', stop, { once: true });

    ws.on('unexpected-response', (_req, res) => {
      // 401/403/404 on the upgrade will not fix themselves by retrying: give up with the gateway's code.
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => { if ((size += c.length) <= 4096) chunks.push(c); });
      res.on('end', () => {
        if (status === 401 || status === 403 || status === 404) {
          fatal = new GatewayError(upgradeCode(status, Buffer.concat(chunks)), `ws upgrade refused with ${status} (is this device registered?)`);
        }
        ws.terminate();
      });
      res.on('error', () => ws.terminate());
      // A body that never ends must not hold the follow loop.
      setTimeout(() => ws.terminate(), 5000).unref();
    });
    ws.on('open', () => {
      opened = true;
      chain = chain.then(() => o.onEvent({ kind: 'connected' }));
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString();
      chain = chain.then(() => onFrame(text)).catch((err: unknown) => {
        // A transient failure (gateway blob fetch, disk): no ack was sent; reconnecting re-delivers.
        failed = true;
        ws.close(wsCloseOf('PSL_INTERNAL'), 'client error');
        return o.onEvent({ kind: 'error', code: (err as { code?: string }).code ?? 'PSL_INTERNAL', reason: (err as Error).message });
      });
    });
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      o.signal?.removeEventListener('abort', stop);
      chain.then(() => resolve({ opened, failed, code, ...(fatal ? { fatal } : {}) }), () => resolve({ opened, failed: true, code }));
    });

    async function onFrame(text: string): Promise<void> {
      const f = parseServerFrame(text);
      if (!f) return;
      if (f.type === 'envelope') {
        // Past the requested count: leave it unacked; the gateway keeps it for the next run.
        if (o.count !== undefined && done.n >= o.count) return;
        const answer: DeliveryAnswer = {
          ack: async (id) => { ws.send(ackFrame(id)); },
          reject: async (id, receipt) => { ws.send(rejectFrame(id, receipt)); },
        };
        const outcome = await client.handleItem(f, answer);
        if (!outcome) return;
        done.n++;
        await o.onEvent({ kind: 'outcome', outcome });
        if (o.count !== undefined && done.n >= o.count) ws.close(1000, 'done');
      } else if (f.type === 'receipt') {
        const r = f.receipt as Json | undefined;
        if (r?.type === 'delivered' && typeof r.id === 'string' && typeof r.deliveredAt === 'number') {
          const verified = await receiptValid(r, client.keys.secrets.gateway?.serviceKey);
          await o.onEvent({ kind: 'delivered', id: r.id, participant: String(r.participant), device: String(r.device), at: r.deliveredAt, verified });
        } else if (r?.type === 'rejected') {
          // Only a well-formed receipt is reported: its reason is then one of the codes, never free text.
          const rej = parseRejectedReceipt(r);
          if (!rej) return;
          const verified = await rejectionVerified(client.directory, rej, client.participant);
          // Only the rejecting device's own signature makes it part of what we keep about our message.
          if (verified) await client.recordRejection(rej);
          await o.onEvent({ kind: 'rejected', id: rej.id, participant: rej.participant, device: rej.device, reason: rej.reason, at: rej.rejectedAt, verified });
        }
      } else if (f.type === 'error') {
        await o.onEvent({ kind: 'error', code: f.code, reason: f.reason });
      }
    }
  });
}

/** The code a refused upgrade's body names (`{error: {code}}`), else the status's. */
function upgradeCode(status: number, body: Buffer): ErrorCode {
  try {
    const code = (JSON.parse(body.toString('utf8')) as { error?: { code?: unknown } }).error?.code;
    if (typeof code === 'string' && code in ERROR_REGISTRY) return code as ErrorCode;
  } catch {
    // Not our JSON (a proxy's page): the status decides.
  }
  return codeForStatus(status);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
