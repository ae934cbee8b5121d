import t from 'tap';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { REPO_ROOT } from '../helpers/corpus.js';

const BIN = join(REPO_ROOT, 'bin', 'passerelle.js');
const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
  if (!existsSync(join(REPO_ROOT, 'dist', 'gateway', 'cli.js'))) throw new Error('dist/ missing: run `npm run build` (npm test does)');
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

t.test('--version prints the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = run('--version');
  t.equal(r.status, 0);
  t.equal(r.stdout.trim(), pkg.version);
});

t.test('check-config: exit 0 on the example, 1 with every problem on a broken copy', async (t) => {
  t.equal(run('check-config', '--config', 'config').status, 0);
  const dir = mkdtempSync(join(tmpdir(), 'passerelle-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(REPO_ROOT, 'config'), dir, { recursive: true });
  const gw = readFileSync(join(dir, 'gateway.yaml'), 'utf8');
  writeFileSync(join(dir, 'gateway.yaml'), gw.replace('port: 8080', 'prot: 8080').replace('kind: lmdb ', 'kind: lmbd '));
  const feeds = readFileSync(join(dir, 'feeds.yaml'), 'utf8');
  writeFileSync(join(dir, 'feeds.yaml'), feeds.replace('owner: chu-lyon', 'owner: chu-paris'));
  const r = run('check-config', '--config', dir);
  t.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  t.match(lines.find((l) => l.includes('http.prot')), /gateway\.yaml:5:3 http\.prot: unknown key — fix: did you mean `port`\?/);
  t.match(lines.find((l) => l.includes('store.kind')), /gateway\.yaml:\d+:\d+ store\.kind: expected one of "lmdb" \| "redis"/);
  t.match(lines.at(-1), /configuration problem\(s\); nothing was started/);
});

t.test('token prints a token and its SHA-256', async (t) => {
  const r = run('token');
  t.equal(r.status, 0);
  const token = /token: +(\S+)/.exec(r.stdout)?.[1] ?? '';
  const sha = /sha256: +([0-9a-f]{64})/.exec(r.stdout)?.[1];
  t.ok(token.length >= 47, 'a 256-bit token');
  t.match(token, /^psl_[A-Za-z0-9_-]{43}$/, 'prefixed, so it never starts with a dash a command line would take for an option');
  t.equal(sha, createHash('sha256').update(token).digest('hex'));
});

t.test('start refuses a bad config before opening any port', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'passerelle-cli-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'config');
  cpSync(join(REPO_ROOT, 'config'), dir, { recursive: true });
  writeFileSync(join(dir, 'routes.yaml'), 'routes:\n  - name: x\n    to: [nobody]\n');
  const r = run('start', '--config', dir);
  t.equal(r.status, 1);
  t.match(r.stderr, /routes\.yaml:3:10 routes\[0\]\.to\[0\]: destination is not a declared participant/);
  t.notOk(existsSync(join(root, 'data')), 'no data directory or key was created');
});
