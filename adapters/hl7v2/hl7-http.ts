import type { Plugin, Server } from '@hapi/hapi';
import type { Logger } from 'pino';
import { GatewayError } from '../../protocol/errors.js';
import { checkFeedName } from '../../gateway/core/feed-name.js';
import type { Caller, IntakePort, Store } from '../../gateway/core/ports.js';
import type { AuthDecision } from './feed-auth.js';
import type { AckMode } from './hl7-evaluate.js';
import { Hl7Intake } from './hl7-intake.js';

/** The ER7 media type of "HL7 over HTTP" (the HAPI HL7-over-HTTP specification). */
export const ER7_MEDIA_TYPE = 'x-application/hl7-v2+er7';
const ACCEPTED_TYPES = new Set([ER7_MEDIA_TYPE, 'application/hl7-v2+er7', 'application/hl7-v2']);

/** One hl7v2 feed as HTTP sees it (main.ts maps the config onto this). */
export interface Hl7HttpFeed {
  name: string;
  /** Participant id of the owner, the only caller allowed to send on the feed. */
  owner: string;
  allowedMessageTypes?: readonly string[];
  encoding?: string;
  ackMode?: AckMode;
  maxBodyBytes?: number;
  /** See Hl7IntakeOptions.msh7WindowMs. */
  msh7WindowMs?: number;
}

/** Options for {@link registerHl7HttpRoutes}. */
export interface Hl7HttpOptions {
  feeds: readonly Hl7HttpFeed[];
  intake: IntakePort;
  log: Logger;
  /** Largest body accepted by the route (a feed may lower it). */
  maxBodyBytes: number;
  /** To rebuild a duplicate's original ACK after a restart. */
  originals?: Pick<Store, 'getRaw' | 'findByIdentifier'>;
}

/**
 * `POST /hl7/{feed}`: one message or a batch in the body, the ACK (or batch of ACKs) in the
 * response, written after the raw is durable. Authentication is the server's default strategy
 * (the feed owner's bearer token). Same rules as MLLP: AA/AE/AR, or CA/CR in enhanced mode, with
 * one exception: HTTP has no connection to carry a later application ACK, so none is sent.
 * Statuses: 200 with the ACK; 403 with an AR for a caller that does not own the feed; 503 with an
 * AE/CE when the store failed (retry); 400 for a feed name that breaks the feed-name rule; 404/415/400/413
 * with the JSON error body (no ACK) for transport problems.
 * @param server - the gateway's hapi server
 * @param options - feeds, the IntakePort and limits
 */
export function registerHl7HttpRoutes(server: Server, options: Hl7HttpOptions): void {
  const feeds = new Map(options.feeds.map((f) => [f.name, {
    feed: f,
    handler: new Hl7Intake({
      feed: f.name, intake: options.intake,
      log: options.log.child({ feed: f.name }),
      ...(f.ackMode ? { ackMode: f.ackMode } : {}), ...(f.allowedMessageTypes ? { allowedMessageTypes: f.allowedMessageTypes } : {}),
      ...(f.encoding ? { encoding: f.encoding } : {}), ...(options.originals ? { originals: options.originals } : {}),
      ...(f.msh7WindowMs ? { msh7WindowMs: f.msh7WindowMs } : {}),
    }),
  }]));
  server.route({
    method: 'POST', path: '/hl7/{feed}',
    options: { payload: { parse: false, output: 'data', maxBytes: options.maxBodyBytes } },
    handler: async (request, h) => {
      const param: unknown = request.params.feed;
      // Checked like every other path parameter (gateway/http/params.ts): a bad name is a 400.
      const entry = feeds.get(checkFeedName(typeof param === 'string' ? param : '', 'path parameter feed'));
      if (!entry) throw new GatewayError('PSL_FEED_UNKNOWN', 'no hl7v2 feed of that name');
      const contentType = request.headers['content-type'];
      const { type, charset } = mediaType(typeof contentType === 'string' ? contentType : '');
      if (!ACCEPTED_TYPES.has(type)) throw new GatewayError('PSL_UNSUPPORTED_MEDIA', `content type must be ${ER7_MEDIA_TYPE}`);
      const body = request.payload as Buffer | null;
      if (!body || body.length === 0) throw new GatewayError('PSL_PAYLOAD_EMPTY');
      if (entry.feed.maxBodyBytes !== undefined && body.length > entry.feed.maxBodyBytes) throw new GatewayError('PSL_PAYLOAD_TOO_LARGE', `body exceeds the feed limit of ${entry.feed.maxBodyBytes} bytes`);
      const caller = request.auth.credentials as unknown as Caller;
      const auth: AuthDecision = caller.participant === entry.feed.owner
        ? { ok: true, caller, via: 'token' }
        : { ok: false, code: 'PSL_FORBIDDEN', reason: 'only the feed owner may send on this feed' };
      const reply = await entry.handler.handle(body, { auth, contentType: type, ...(charset ? { fallbackCharset: charset } : {}) });
      const status = !auth.ok ? 403 : reply.retryable ? 503 : 200;
      const out = h.response(reply.bytes ?? Buffer.alloc(0)).code(reply.bytes ? status : (status === 200 ? 204 : status))
        .type(`${ER7_MEDIA_TYPE}; charset=${httpCharset(reply.charset)}`);
      if (status === 503) out.header('Retry-After', '5');
      return out;
    },
  });
}

function mediaType(header: string): { type: string; charset: string | undefined } {
  const [type = '', ...params] = header.split(';').map((p) => p.trim());
  const cs = params.find((p) => p.toLowerCase().startsWith('charset='));
  return { type: type.toLowerCase(), charset: cs?.slice('charset='.length).replace(/^"|"$/g, '') };
}

/** iconv-lite names as IANA charset labels for the Content-Type header. */
function httpCharset(name: string): string {
  return name === 'utf8' ? 'utf-8' : name === 'latin1' ? 'iso-8859-1' : name;
}

/** registerHl7HttpRoutes as a hapi plugin (gateway/main.ts registers every HTTP feature from one list). */
export const hl7HttpPlugin: Plugin<Hl7HttpOptions> = { name: 'passerelle/hl7-http', register: registerHl7HttpRoutes };
