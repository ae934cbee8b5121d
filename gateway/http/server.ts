import { readFileSync } from 'node:fs';
import Hapi, { type Server } from '@hapi/hapi';
import type { Config } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import type { Store } from '../core/ports.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Intake } from '../pipeline/intake.js';
import { registerAuth, TokenTable } from './auth.js';
import { registerBodyLimit } from './body-limit.js';
import { registerErrorMapper } from './errors.js';
import { registerHealthRoutes } from './plugins/health.js';
import { registerRawRoutes } from './plugins/raw.js';
import { registerFhirRoutes } from './plugins/fhir.js';
import { registerIdentityConflictRoutes } from './plugins/identity-conflicts.js';

export interface HttpDeps {
  config: Config;
  store: Store;
  intake: Intake;
  metrics: Metrics;
  log: Logger;
  isReady: () => boolean;
}

/** The hapi server with every route, not yet started. Port 0 in config means "any free port" (tests). */
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
  registerHealthRoutes(server, { store: deps.store, metrics, isReady: deps.isReady });
  registerRawRoutes(server, { config, store: deps.store, intake: deps.intake });
  registerFhirRoutes(server, { store: deps.store, baseUrl: '' });
  registerIdentityConflictRoutes(server, { store: deps.store });
  return server;
}
