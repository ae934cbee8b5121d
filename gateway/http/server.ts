import { readFileSync } from 'node:fs';
import Hapi, { type Plugin, type Server } from '@hapi/hapi';
import type { Config } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { registerAuth, TokenTable } from './auth.js';
import { registerBodyLimit } from './body-limit.js';
import { registerErrorMapper } from './errors.js';

export interface HttpDeps {
  config: Config;
  metrics: Metrics;
  log: Logger;
}

/** One HTTP feature: a hapi plugin and its options, registered by registerFeatures. */
export interface HttpFeature {
  register(server: Server): Promise<void>;
}

/** Pairs a plugin with its options (typed together), for the one list gateway/main.ts registers. */
export function feature<T>(plugin: Plugin<T>, options: T): HttpFeature {
  return { register: (server) => server.register({ plugin, options }) };
}

/** Registers every HTTP feature, in order. */
export async function registerFeatures(server: Server, features: readonly HttpFeature[]): Promise<void> {
  for (const f of features) await f.register(server);
}

/**
 * The hapi server with what every route shares (authentication, the error mapper, body limits,
 * request metrics), not yet started; routes come as features (registerFeatures). Port 0 in
 * config means "any free port" (tests).
 */
export async function createHttpServer(deps: HttpDeps): Promise<Server> {
  const { config, log, metrics } = deps;
  const http = config.gateway.http;
  const tls = http.tls && {
    cert: readFileSync(http.tls.cert),
    key: readSecret(http.tls.key, config.dir),
    ...(http.tls.ca ? { ca: readFileSync(http.tls.ca) } : {}),
    requestCert: http.tls.requireClientCert,
    rejectUnauthorized: http.tls.requireClientCert,
  };
  const server = Hapi.server({
    host: http.host,
    port: http.port,
    ...(tls ? { tls } : {}),
    routes: { payload: { maxBytes: config.gateway.limits.maxBodyBytes }, response: { emptyStatusCode: 204 } },
    router: { stripTrailingSlash: true },
  });
  registerAuth(server, new TokenTable(config.participants));
  registerErrorMapper(server, log);
  registerBodyLimit(server);
  server.events.on('response', (request) => {
    const response = request.response as { statusCode?: number } | null;
    metrics.httpRequests.inc({ method: request.method, route: request.route.path, status: String(response?.statusCode ?? 0) });
  });
  return server;
}
