import type { Plugin, Server } from '@hapi/hapi';
import type { Store } from '../../core/ports.js';
import { GatewayError } from '../../../protocol/errors.js';
import type { Metrics } from '../../metrics.js';
import { callerOf } from '../auth.js';

/** Liveness and readiness answer without authentication (load balancers and orchestrators). */
export function registerHealthRoutes(server: Server, options: { store: Store; metrics: Metrics; isReady: () => boolean }): void {
  server.route({
    method: 'GET', path: '/health', options: { auth: false },
    handler: () => ({ status: 'ok' }),
  });
  server.route({
    method: 'GET', path: '/ready', options: { auth: false },
    handler: async (_request, h) => {
      const listeners = options.isReady();
      let store = true;
      try {
        await options.store.ping();
      } catch {
        store = false;
      }
      const ready = listeners && store;
      return h.response({ status: ready ? 'ready' : 'not-ready', store: store ? 'up' : 'down', listeners: listeners ? 'up' : 'starting' })
        .code(ready ? 200 : 503);
    },
  });
  server.route({
    method: 'GET', path: '/metrics',
    handler: async (request, h) => {
      if (callerOf(request).kind !== 'admin') throw new GatewayError('PSL_FORBIDDEN', 'metrics need the admin role');
      return h.response(await options.metrics.registry.metrics()).type(options.metrics.registry.contentType);
    },
  });
}

/** registerHealthRoutes as a hapi plugin (gateway/main.ts registers every HTTP feature from one list). */
export const healthPlugin: Plugin<{ store: Store; metrics: Metrics; isReady: () => boolean }> = { name: 'passerelle/health', register: registerHealthRoutes };
