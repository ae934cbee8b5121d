import { isAbsolute, join } from 'node:path';
import type { Config } from './schema.js';

/**
 * Every path of a validated config made absolute against the config directory, `file:` secret
 * references included, so the gateway's modules read paths as they are and resolve nothing
 * themselves. Secret values stay behind their references (read when used: config/secrets.ts).
 * loadConfig calls it once, after the cross-checks.
 */
export function resolvePaths(config: Config): Config {
  const abs = (path: string): string => (isAbsolute(path) ? path : join(config.dir, path));
  const ref = (r: string): string => (r.startsWith('file:') ? `file:${abs(r.slice('file:'.length))}` : r);
  const tls = <T extends { cert: string; key: string; ca?: string | undefined }>(t: T): T =>
    ({ ...t, cert: abs(t.cert), key: ref(t.key), ...(t.ca === undefined ? {} : { ca: abs(t.ca) }) });
  const g = config.gateway;
  const m = g.messaging;
  return {
    ...config,
    gateway: {
      ...g,
      http: { ...g.http, ...(g.http.tls ? { tls: tls(g.http.tls) } : {}) },
      store: g.store.kind === 'lmdb' ? { ...g.store, path: abs(g.store.path) } : { ...g.store, url: ref(g.store.url) },
      dataKey: { ...g.dataKey, ref: ref(g.dataKey.ref) },
      ...(m ? {
        messaging: {
          ...m, blobDir: abs(m.blobDir),
          directoryKey: { ...m.directoryKey, ref: ref(m.directoryKey.ref) }, serviceKey: { ...m.serviceKey, ref: ref(m.serviceKey.ref) },
        },
      } : {}),
    },
    feeds: config.feeds.map((f) => (f.mllp?.tls ? { ...f, mllp: { ...f.mllp, tls: tls(f.mllp.tls) } } : f)),
  };
}
