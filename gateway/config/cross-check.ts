import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Config } from './schema.js';
import type { ConfigProblem } from './problems.js';
import { formatPath } from './problems.js';
import { locate, type ParsedFile } from './yaml-position.js';
import { checkSecretRef } from './secrets.js';

type Files = Record<'gateway' | 'participants' | 'feeds' | 'routes', ParsedFile>;

/** Checks that span files or touch the machine: references, uniqueness, secrets and files that must exist. */
export function crossCheck(config: Config, files: Files, env: NodeJS.ProcessEnv): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (file: keyof Files, path: PropertyKey[], message: string, fix: string): void => {
    problems.push({ file: files[file].shown, ...locate(files[file], path), path: formatPath(path), message, fix });
  };
  const participants = new Set<string>();
  const tokenOwners = new Map<string, string>();
  config.participants.forEach((p, i) => {
    if (participants.has(p.id)) at('participants', ['participants', i, 'id'], 'duplicate participant id', 'give each participant a unique id');
    participants.add(p.id);
    p.tokens.forEach((tk, j) => {
      const owner = tokenOwners.get(tk.sha256);
      if (owner !== undefined) at('participants', ['participants', i, 'tokens', j, 'sha256'], `token hash already belongs to participant ${owner}`, 'issue a separate token per participant (`passerelle token`)');
      tokenOwners.set(tk.sha256, p.id);
    });
  });
  const feeds = new Set<string>();
  const fhirOwners = new Map<string, string>();
  config.feeds.forEach((f, i) => {
    if (feeds.has(f.name)) at('feeds', ['feeds', i, 'name'], 'duplicate feed name', 'give each feed a unique name');
    feeds.add(f.name);
    // The FHIR API picks the feed from the caller's token, so an owner has at most one.
    const earlier = f.format === 'fhir-r4' ? fhirOwners.get(f.owner) : undefined;
    if (earlier !== undefined) at('feeds', ['feeds', i, 'format'], `participant ${f.owner} already owns fhir-r4 feed ${earlier}`, 'give each participant at most one fhir-r4 feed');
    if (f.format === 'fhir-r4' && earlier === undefined) fhirOwners.set(f.owner, f.name);
    if (!participants.has(f.owner)) at('feeds', ['feeds', i, 'owner'], 'owner is not a declared participant', 'declare it in participants.yaml or use an existing participant id');
  });
  checkMllpFeeds(config, env, (path, message, fix) => at('feeds', path, message, fix));
  config.routes.forEach((r, i) => {
    r.to.forEach((to, j) => {
      if (!participants.has(to)) at('routes', ['routes', i, 'to', j], 'destination is not a declared participant', 'declare it in participants.yaml');
    });
    r.when.feed?.forEach((feed, j) => {
      if (!feeds.has(feed)) at('routes', ['routes', i, 'when', 'feed', j], 'feed is not declared', 'declare it in feeds.yaml');
    });
  });

  const gw = config.gateway;
  const dataKeyProblem = checkSecretRef(gw.dataKey.ref, config.dir, env);
  if (dataKeyProblem && !(gw.dataKey.generateIfMissing && gw.dataKey.ref.startsWith('file:'))) {
    at('gateway', ['dataKey', 'ref'], `data key cannot be read: ${dataKeyProblem}`, 'create a 32-byte key (`passerelle keygen > data.key`) or set generateIfMissing: true for development');
  }
  if (gw.store.kind === 'redis' && gw.store.url.startsWith('env:') || gw.store.kind === 'redis' && gw.store.url.startsWith('file:')) {
    const p = checkSecretRef(gw.store.url, config.dir, env);
    if (p) at('gateway', ['store', 'url'], `redis URL cannot be read: ${p}`, 'set the variable or create the file');
  }
  const tls = gw.http.tls;
  if (tls) {
    const p = checkSecretRef(tls.key, config.dir, env);
    if (p) at('gateway', ['http', 'tls', 'key'], `TLS key cannot be read: ${p}`, 'generate dev certificates with certs/dev-ca.sh or point to your key');
    for (const field of ['cert', 'ca'] as const) {
      const file = tls[field];
      if (file && !existsSync(isAbsolute(file) ? file : join(config.dir, file))) {
        at('gateway', ['http', 'tls', field], 'file does not exist', 'generate dev certificates with certs/dev-ca.sh or fix the path');
      }
    }
    if (tls.requireClientCert && !tls.ca) at('gateway', ['http', 'tls', 'requireClientCert'], 'client certificates required but no ca given', 'add ca: with the CA that signs client certificates');
  }
  return problems;
}

/** MLLP listeners: distinct ports, TLS files and keys that exist (the schema already enforced authentication). */
function checkMllpFeeds(config: Config, env: NodeJS.ProcessEnv, at: (path: PropertyKey[], message: string, fix: string) => void): void {
  const ports = new Map<string, string>();
  const httpPort = config.gateway.http.port;
  config.feeds.forEach((f, i) => {
    const m = f.mllp;
    if (!m) return;
    if (m.port !== 0) {
      const key = `${m.host}:${m.port}`;
      const other = ports.get(key);
      if (other !== undefined) at(['feeds', i, 'mllp', 'port'], `port already used by feed ${other}`, 'give each MLLP feed its own port');
      else if (m.port === httpPort) at(['feeds', i, 'mllp', 'port'], 'port is the HTTP listener port', 'choose another port (2575 is the registered MLLP port)');
      ports.set(key, f.name);
    }
    if (!m.tls) return;
    const keyProblem = checkSecretRef(m.tls.key, config.dir, env);
    if (keyProblem) at(['feeds', i, 'mllp', 'tls', 'key'], `TLS key cannot be read: ${keyProblem}`, 'generate dev certificates with certs/dev-ca.sh or point to your key');
    for (const field of ['cert', 'ca'] as const) {
      const file = m.tls[field];
      if (file && !existsSync(isAbsolute(file) ? file : join(config.dir, file))) {
        at(['feeds', i, 'mllp', 'tls', field], 'file does not exist', 'generate dev certificates with certs/dev-ca.sh or fix the path');
      }
    }
  });
}
