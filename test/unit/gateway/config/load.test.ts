import t, { type Test } from 'tap';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../../gateway/config/load.js';
import { formatProblem } from '../../../../gateway/config/problems.js';
import { REPO_ROOT } from '../../../helpers/corpus.js';

/** A private copy of the example config that a test may break. */
function exampleCopy(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'passerelle-config-'));
  cpSync(join(REPO_ROOT, 'config'), dir, { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function edit(dir: string, file: string, from: string | RegExp, to: string): void {
  const path = join(dir, file);
  const before = readFileSync(path, 'utf8');
  const after = before.replace(from, to);
  if (after === before) throw new Error(`edit had no effect on ${file}`);
  writeFileSync(path, after);
}

t.test('the example config is valid and deep-frozen', async (t) => {
  const result = loadConfig(join(REPO_ROOT, 'config'));
  if (!result.ok) t.fail(result.problems.map(formatProblem).join('\n'));
  else {
    t.equal(result.config.gateway.store.kind, 'lmdb');
    t.equal(result.config.gateway.limits.maxBodyBytes, 10485760);
    t.ok(Object.isFrozen(result.config.feeds[0]), 'nested objects are frozen');
    t.ok(result.config.participants.some((p) => p.kind === 'admin'));
  }
});

t.test('every problem is reported at once with file:line:col, path and fix', async (t) => {
  const dir = exampleCopy(t);
  edit(dir, 'feeds.yaml', 'format: hl7v2\n  - name: bioplus-results', 'format: hl7v3\n  - name: bioplus-results');
  edit(dir, 'feeds.yaml', 'owner: labo-bioplus', 'ownr: labo-bioplus');
  edit(dir, 'gateway.yaml', 'port: 8080', 'port: "abc"');
  edit(dir, 'gateway.yaml', 'ref: file:../data/data.key', 'ref: 0123456789abcdef0123456789abcdef');
  edit(dir, 'routes.yaml', 'to: [chu-lyon]', 'to: [chu-lyom]');
  const result = loadConfig(dir);
  t.equal(result.ok, false);
  if (result.ok) return;
  const lines = result.problems.map(formatProblem);
  t.comment(lines.join('\n'));
  const find = (re: RegExp): string | undefined => lines.find((l) => re.test(l));
  t.match(find(/feeds\[0\]\.format/), /feeds\.yaml:5:13 feeds\[0\]\.format: expected one of "hl7v2" \| "fhir-r4" \| "csv" \| "raw" — fix:/);
  t.match(find(/ownr/), /feeds\.yaml:7:5 feeds\[1\]\.ownr: unknown key — fix: did you mean `owner`\?/);
  t.match(find(/owner:/) ?? find(/feeds\[1\]\.owner/), /feeds\[1\]\.owner: is required/);
  t.match(find(/http\.port/), /gateway\.yaml:5:9 http\.port: expected number, got string — fix: write a number without quotes/);
  t.match(find(/dataKey\.ref/), /gateway\.yaml:\d+:\d+ dataKey\.ref: secrets must be references, not values — fix: write env:NAME/);
  t.notOk(lines.some((l) => l.includes('0123456789abcdef')), 'the inline secret is not echoed');
  t.notOk(find(/routes/), 'cross-file checks wait until every file is valid on its own');
});

t.test('cross-file references are checked once the files are valid', async (t) => {
  const dir = exampleCopy(t);
  edit(dir, 'routes.yaml', 'to: [chu-lyon]', 'to: [chu-lyom]');
  edit(dir, 'feeds.yaml', 'owner: labo-bioplus', 'owner: labo-inconnu');
  const result = loadConfig(dir);
  t.equal(result.ok, false);
  if (result.ok) return;
  const lines = result.problems.map(formatProblem);
  t.match(lines.find((l) => l.includes('routes')), /routes\.yaml:7:10 routes\[0\]\.to\[0\]: destination is not a declared participant/);
  t.match(lines.find((l) => l.includes('feeds')), /feeds\.yaml:7:12 feeds\[1\]\.owner: owner is not a declared participant/);
});

t.test('secret references must resolve unless a dev key may be generated', async (t) => {
  const dir = exampleCopy(t);
  edit(dir, 'gateway.yaml', 'ref: file:../data/data.key', 'ref: env:PASSERELLE_TEST_NO_SUCH_VAR');
  let result = loadConfig(dir, {});
  t.equal(result.ok, false);
  if (!result.ok) t.match(formatProblem(result.problems[0]!), /dataKey\.ref: data key cannot be read: environment variable PASSERELLE_TEST_NO_SUCH_VAR is not set/);
  result = loadConfig(dir, { PASSERELLE_TEST_NO_SUCH_VAR: 'a'.repeat(64) });
  t.equal(result.ok, true);
});

t.test('YAML syntax errors and missing files are located', async (t) => {
  const dir = exampleCopy(t);
  writeFileSync(join(dir, 'routes.yaml'), 'routes:\n  - name: x\n   to: [a]\n');
  rmSync(join(dir, 'feeds.yaml'));
  const result = loadConfig(dir);
  t.equal(result.ok, false);
  if (result.ok) return;
  const lines = result.problems.map(formatProblem);
  t.ok(lines.some((l) => /feeds\.yaml:1:1 file is missing/.test(l)), 'missing file');
  t.ok(lines.some((l) => /routes\.yaml:3:\d+ YAML syntax:/.test(l)), 'syntax error with its line');
});

t.test('duplicate ids and shared token hashes are refused', async (t) => {
  const dir = exampleCopy(t);
  const hash = 'ab'.repeat(32);
  edit(dir, 'participants.yaml', /id: chu-lyon\n    kind: hospital\n    name: CHU de Lyon\n    tokens: \[\]/, `id: chu-lyon\n    kind: hospital\n    name: CHU de Lyon\n    tokens: [{ sha256: ${hash} }]`);
  edit(dir, 'participants.yaml', /id: mutuelle-x\n    kind: insurer\n    name: Mutuelle X\n    tokens: \[\]/, `id: chu-lyon\n    kind: insurer\n    name: Mutuelle X\n    tokens: [{ sha256: ${hash} }]`);
  const result = loadConfig(dir);
  t.equal(result.ok, false);
  if (result.ok) return;
  const lines = result.problems.map(formatProblem).join('\n');
  t.match(lines, /participants\[3\]\.id: duplicate participant id/);
  t.match(lines, /participants\[3\]\.tokens\[0\]\.sha256: token hash already belongs to participant chu-lyon/);
});

t.test('a participant owns at most one fhir-r4 feed (its token picks the feed)', async (t) => {
  const dir = exampleCopy(t);
  const path = join(dir, 'feeds.yaml');
  writeFileSync(path, `${readFileSync(path, 'utf8')}  - name: bioplus-fhir-2\n    owner: labo-bioplus\n    format: fhir-r4\n  - name: chu-fhir\n    owner: chu-lyon\n    format: fhir-r4\n`);
  const result = loadConfig(dir);
  t.equal(result.ok, false);
  if (result.ok) return;
  const lines = result.problems.map(formatProblem);
  t.equal(lines.length, 1, 'the hospital\'s first FHIR feed is fine');
  t.match(lines[0], /feeds\.yaml:\d+:\d+ feeds\[3\]\.format: participant labo-bioplus already owns fhir-r4 feed bioplus-fhir — fix: give each participant at most one fhir-r4 feed/);
});

t.test('a feed time zone must be an IANA name', async (t) => {
  const dir = exampleCopy(t);
  edit(dir, 'feeds.yaml', 'timeZone: Europe/Paris', 'timeZone: Europe/Lyon');
  const result = loadConfig(dir);
  t.equal(result.ok, false);
  if (!result.ok) t.match(formatProblem(result.problems[0]!), /feeds\.yaml:9:15 feeds\[1\]\.timeZone: not an IANA time zone — fix: use a name such as Europe\/Paris/);
});

t.test('every path and file: reference comes out absolute, against the config directory', async (t) => {
  const dir = exampleCopy(t);
  const result = loadConfig(dir);
  if (!result.ok) return t.fail(result.problems.map(formatProblem).join('\n'));
  const g = result.config.gateway;
  const data = join(dir, '..', 'data');
  t.same(g.store, { kind: 'lmdb', path: join(data, 'lmdb') }, 'store.path');
  t.equal(g.dataKey.ref, `file:${join(data, 'data.key')}`, 'dataKey.ref');
  t.equal(g.messaging?.blobDir, join(data, 'blobs'), 'messaging.blobDir');
  t.equal(g.messaging?.directoryKey.ref, `file:${join(data, 'directory.key')}`, 'messaging.directoryKey.ref');
  t.equal(g.messaging?.serviceKey.ref, `file:${join(data, 'service.key')}`, 'messaging.serviceKey.ref');

  const tlsDir = exampleCopy(t);
  for (const f of ['server.crt', 'server.key', 'ca.crt']) writeFileSync(join(tlsDir, f), 'PEM');
  edit(tlsDir, 'gateway.yaml', '  # tls:', '  tls: { cert: server.crt, key: file:server.key, ca: ca.crt }\n  # tls:');
  const withTls = loadConfig(tlsDir, { ...process.env });
  if (!withTls.ok) return t.fail(withTls.problems.map(formatProblem).join('\n'));
  t.same(withTls.config.gateway.http.tls && { cert: withTls.config.gateway.http.tls.cert, key: withTls.config.gateway.http.tls.key, ca: withTls.config.gateway.http.tls.ca },
    { cert: join(tlsDir, 'server.crt'), key: `file:${join(tlsDir, 'server.key')}`, ca: join(tlsDir, 'ca.crt') }, 'http.tls files');
});
