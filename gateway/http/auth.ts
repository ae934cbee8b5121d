import { createHash, timingSafeEqual } from 'node:crypto';
import Boom from '@hapi/boom';
import type { Server } from '@hapi/hapi';
import type { Participant } from '../config/schema.js';
import type { Caller } from '../core/ports.js';

export type { Caller } from '../core/ports.js';

declare module '@hapi/hapi' {
  interface UserCredentials extends Caller {}
}

export const AUTH_SCHEME = 'passerelle-bearer';

/**
 * Token check: the presented token is hashed with SHA-256 and compared, in constant time, with
 * every configured hash (all of them, so timing does not reveal which one matched). Tokens are
 * 256-bit random values, so a fast hash is enough: there is nothing to brute-force.
 */
export class TokenTable {
  readonly #entries: Array<{ hash: Buffer; caller: Caller }>;

  constructor(participants: readonly Participant[]) {
    this.#entries = participants.flatMap((p) =>
      p.tokens.map((t) => ({ hash: Buffer.from(t.sha256, 'hex'), caller: { participant: p.id, kind: p.kind } })));
  }

  /** The caller owning this token, or undefined. */
  identify(token: string): Caller | undefined {
    const presented = createHash('sha256').update(token, 'utf8').digest();
    let found: Caller | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(entry.hash, presented)) found = entry.caller;
    }
    return found;
  }
}

/** Parses `Authorization: Bearer <token>`; undefined when absent or malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{16,512})$/.exec(header ?? '');
  return match?.[1];
}

/** Registers the bearer scheme as the default strategy: every route is authenticated unless it opts out. */
export function registerAuth(server: Server, tokens: TokenTable): void {
  server.auth.scheme(AUTH_SCHEME, () => ({
    authenticate(request, h) {
      const raw: unknown = request.headers.authorization;
      const header = typeof raw === 'string' ? raw : undefined;
      const token = bearerToken(header);
      if (token === undefined && !header) throw unauthorized('bearer token required', 'PSL_AUTH_REQUIRED');
      const caller = token === undefined ? undefined : tokens.identify(token);
      if (!caller) throw unauthorized('bearer token not recognised', 'PSL_AUTH_INVALID');
      return h.authenticated({ credentials: { ...caller } });
    },
  }));
  server.auth.strategy('bearer', AUTH_SCHEME);
  server.auth.default('bearer');
}

function unauthorized(message: string, code: 'PSL_AUTH_REQUIRED' | 'PSL_AUTH_INVALID'): Boom.Boom {
  return Object.assign(Boom.unauthorized(message), { data: { code } });
}

/** The authenticated caller of a request (routes behind the default strategy always have one). */
export function callerOf(request: { auth: { credentials: unknown } }): Caller {
  return request.auth.credentials as Caller;
}

/** A path parameter as a string (hapi types params as unknown). */
export function param(request: { params: Record<string, unknown> }, name: string): string {
  const value = request.params[name];
  return typeof value === 'string' ? value : '';
}
