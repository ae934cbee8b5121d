import { join, relative } from 'node:path';
import { CONFIG_FILES } from '../config/schema.js';
import { GatewayError } from '../../protocol/errors.js';

/** A listener the gateway opens at start, and the config key that sets its port. */
export interface ListenerSite {
  /** How the admin knows it: `HTTP API`, `feed hospital-adt (MLLP)`. */
  listener: string;
  host: string;
  port: number;
  /** Config directory, to show the file the key lives in. */
  configDir: string;
  file: keyof typeof CONFIG_FILES;
  /** `http.port`, `feeds[0].mllp.port`. */
  key: string;
}

/**
 * A listen failure as one line an admin can act on, when the port is taken: which listener, which
 * address, which config key to change. Any other failure is returned unchanged (its stack helps).
 * @param err - what `listen()` rejected with
 * @param site - the listener and where its port is configured
 */
export function listenError(err: unknown, site: ListenerSite): unknown {
  if ((err as { code?: unknown } | null)?.code !== 'EADDRINUSE') return err;
  const file = shownPath(join(site.configDir, CONFIG_FILES[site.file].file));
  const address = site.host.includes(':') ? `[${site.host}]:${site.port}` : `${site.host}:${site.port}`;
  return new GatewayError('PSL_PORT_IN_USE',
    `${site.listener} cannot listen on ${address}: the port is already in use (${file}: ${site.key}) — fix: stop the process that holds the port, or set ${site.key} to a free port`,
    { cause: err });
}

/** Relative to the working directory when inside it, as config problems are shown. */
function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}
