import { existsSync, readFileSync } from 'node:fs';

/**
 * The gateway's version, from package.json: two levels up from dist/gateway/, one from gateway/
 * when the sources run directly (tests).
 */
function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    const url = new URL(rel, import.meta.url);
    if (!existsSync(url)) continue;
    const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'passerelle' && pkg.version) return pkg.version;
  }
  return '0.0.0';
}

export const GATEWAY_VERSION = readVersion();
