import type { Plugin, Server } from '@hapi/hapi';
import type { Readable } from 'node:stream';
import { callerOf, param } from '../http/auth.js';
import type { Logger } from '../log.js';
import type { BlobStore } from './blobs.js';
import { refusalResponse } from './refusal.js';
import type { Relay } from './relay.js';

const DEVICE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function query(request: { query: unknown }, name: string): string | undefined {
  const v = (request.query as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}

function header(request: { headers: Record<string, unknown> }, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Relay HTTP routes: submit envelopes, read receipts, pull the inbox and ack (for clients without
 * WebSocket), upload and fetch attachment blobs. Bodies are never logged.
 * @param server - hapi server
 * @param deps - relay core, blob store, limits, public keys, logger
 */
export function registerRelayRoutes(server: Server, deps: {
  relay: Relay; blobs: BlobStore; maxEnvelopeBytes: number; maxBlobBytes: number; log: Logger;
  publicInfo: Record<string, unknown>;
}): void {
  const { relay, blobs, log } = deps;

  server.route({
    method: 'GET', path: '/v1/messaging',
    handler: () => deps.publicInfo,
  });

  server.route({
    method: 'POST', path: '/v1/messages',
    options: { payload: { parse: false, output: 'data', maxBytes: deps.maxEnvelopeBytes } },
    handler: async (request, h) => {
      const caller = callerOf(request).participant;
      const body = request.payload as Buffer | null;
      const out = await relay.accept(caller, body ?? new Uint8Array(0));
      if (!out.ok) {
        log.info({ code: out.code, reason: out.reason, bytes: body?.length ?? 0 }, 'envelope refused');
        return refusalResponse(h, out);
      }
      return h.response({ status: 'accepted', receipt: out.receipt }).code(out.replay ? 200 : 201);
    },
  });

  server.route({
    method: 'GET', path: '/v1/messages/{id}/receipts',
    handler: async (request, h) => {
      const r = await relay.receipts(callerOf(request).participant, param(request, 'id'));
      return r ?? refusalResponse(h, { code: 'PSL_NOT_FOUND', reason: 'not-found' });
    },
  });

  server.route({
    method: 'GET', path: '/v1/inbox',
    handler: async (request, h) => {
      const caller = callerOf(request).participant;
      const device = query(request, 'device') ?? '';
      if (!DEVICE.test(device)) return refusalResponse(h, { code: 'PSL_BAD_REQUEST', reason: 'device-unknown' });
      const bad = relay.deviceCheck(caller, device);
      if (bad) return refusalResponse(h, bad);
      const max = Math.min(100, Math.max(1, Number(query(request, 'max') ?? 10) || 10));
      const frames: string[] = [];
      for (let i = 0; i < max; i++) {
        const d = await relay.claimNext(caller, device);
        if (!d) break;
        frames.push(d.frame);
      }
      return h.response(`{"messages":[${frames.join(',')}]}`).type('application/json');
    },
  });

  server.route({
    method: 'POST', path: '/v1/inbox/{id}/ack',
    handler: async (request, h) => {
      const caller = callerOf(request).participant;
      const device = query(request, 'device') ?? '';
      const out = await relay.ack(caller, device, param(request, 'id'));
      return out.ok ? { status: 'delivered', receipt: out.receipt } : refusalResponse(h, out);
    },
  });

  server.route({
    method: 'POST', path: '/v1/inbox/{id}/reject',
    handler: async (request, h) => {
      const caller = callerOf(request).participant;
      const device = query(request, 'device') ?? '';
      const out = await relay.reject(caller, device, param(request, 'id'), request.payload);
      if (!out.ok) {
        log.info({ code: out.code, reason: out.reason }, 'rejection refused');
        return refusalResponse(h, out);
      }
      return { status: 'rejected', receipt: out.receipt };
    },
  });

  server.route({
    method: 'POST', path: '/v1/blobs',
    options: { payload: { parse: false, output: 'stream', maxBytes: deps.maxBlobBytes } },
    handler: async (request, h) => {
      const caller = callerOf(request).participant;
      const declared = {
        ref: header(request, 'x-blob-ref') ?? '',
        size: Number(header(request, 'x-blob-size') ?? NaN),
        hash: header(request, 'x-blob-hash') ?? '',
      };
      const out = await blobs.upload(caller, declared, request.payload as Readable);
      if (!out.ok) {
        log.info({ reason: out.reason }, 'blob refused');
        const code = out.reason === 'too-big' ? 'PSL_PAYLOAD_TOO_LARGE' : out.reason === 'exists' ? 'PSL_CONFLICT'
          : out.reason === 'ref' ? 'PSL_BAD_REQUEST' : 'PSL_ATTACHMENT_INVALID';
        return refusalResponse(h, { code, reason: out.reason });
      }
      log.debug({ ref: out.meta.ref, bytes: out.meta.size }, 'blob stored');
      return h.response({ ref: out.meta.ref, size: out.meta.size, hash: out.meta.hash }).code(out.duplicate ? 200 : 201);
    },
  });

  server.route({
    method: 'GET', path: '/v1/blobs/{ref}',
    handler: async (request, h) => {
      const b = await blobs.open(callerOf(request).participant, param(request, 'ref'));
      if (!b) return refusalResponse(h, { code: 'PSL_NOT_FOUND', reason: 'not-found' });
      return h.response(b.stream).type('application/octet-stream').header('content-length', String(b.meta.size))
        .header('x-blob-hash', b.meta.hash);
    },
  });
}

/** registerRelayRoutes as a hapi plugin (gateway/main.ts registers every HTTP feature from one list). */
export const relayPlugin: Plugin<Parameters<typeof registerRelayRoutes>[1]> = { name: 'passerelle/relay', register: registerRelayRoutes };
