import type { Plugin, Server } from '@hapi/hapi';
import type { Store } from '../../core/ports.js';
import type { Config } from '../../config/schema.js';
import { GatewayError } from '../../../protocol/errors.js';
import type { Intake } from '../../pipeline/intake.js';
import { callerOf } from '../auth.js';
import { feedParam, idParam } from '../params.js';
import { canSeeRaw } from '../../core/access.js';

const SOURCE_REF = /^[\x21-\x7e]{1,200}$/;

/**
 * Minimal raw intake: any bytes, stored durably before the 201. A replay of the same bytes answers
 * 200 with the original id rather than 409, so senders can retry blindly; a known X-Source-Ref with
 * other bytes is a new message (201, flagged control-id-reused).
 */
export function registerRawRoutes(server: Server, options: { config: Config; store: Store; intake: Intake }): void {
  const feeds = new Map(options.config.feeds.map((f) => [f.name, f]));
  server.route({
    method: 'POST', path: '/v1/raw/{feed}',
    options: {
      payload: { parse: false, output: 'data', maxBytes: options.config.gateway.limits.maxBodyBytes },
    },
    handler: async (request, h) => {
      const caller = callerOf(request);
      const feed = feeds.get(feedParam(request, 'feed'));
      if (!feed) throw new GatewayError('PSL_FEED_UNKNOWN', 'no feed of that name');
      if (feed.owner !== caller.participant) throw new GatewayError('PSL_FORBIDDEN', 'only the feed owner may send on this feed');
      const body = request.payload as Buffer | null;
      if (!body || body.length === 0) throw new GatewayError('PSL_PAYLOAD_EMPTY');
      if (feed.maxBodyBytes !== undefined && body.length > feed.maxBodyBytes) throw new GatewayError('PSL_PAYLOAD_TOO_LARGE', `body exceeds the feed limit of ${feed.maxBodyBytes} bytes`);
      const refHeader: unknown = request.headers['x-source-ref'];
      if (refHeader !== undefined && (typeof refHeader !== 'string' || !SOURCE_REF.test(refHeader))) {
        throw new GatewayError('PSL_BAD_REQUEST', 'X-Source-Ref must be 1-200 printable ASCII characters');
      }
      const contentType: unknown = request.headers['content-type'];
      const result = await options.intake.accept({
        feed: feed.name, participant: caller.participant, format: feed.format, body,
        ...(typeof refHeader === 'string' ? { sourceRef: refHeader } : {}),
        ...(typeof contentType === 'string' ? { contentType } : {}),
      });
      return h.response({ rawId: result.rawId, status: result.status, sha256: result.sha256 })
        .code(result.status === 'stored' ? 201 : 200);
    },
  });
  server.route({
    method: 'GET', path: '/v1/raw/{id}',
    handler: async (request) => {
      const meta = await options.store.getRawMeta(idParam(request, 'id'));
      // Same answer for "absent" and "not yours": existence is not disclosed.
      if (!meta || !canSeeRaw(callerOf(request), meta)) throw new GatewayError('PSL_NOT_FOUND', 'no raw message with that id');
      return {
        id: meta.id, feed: meta.feed, participant: meta.participant, format: meta.format,
        receivedAt: meta.receivedAt.toISOString(), bytes: meta.bytes, sha256: meta.sha256,
        ...(meta.sourceRef === undefined ? {} : { sourceRef: meta.sourceRef }),
        ...(meta.contentType === undefined ? {} : { contentType: meta.contentType }),
        ...(meta.charset === undefined ? {} : { charset: meta.charset }),
        ...(meta.request === undefined ? {} : { request: meta.request }),
      };
    },
  });
}

/** registerRawRoutes as a hapi plugin (gateway/main.ts registers every HTTP feature from one list). */
export const rawPlugin: Plugin<{ config: Config; store: Store; intake: Intake }> = { name: 'passerelle/raw', register: registerRawRoutes };
