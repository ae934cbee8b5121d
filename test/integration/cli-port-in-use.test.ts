import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/corpus.js';

// `passerelle start` on a port another process holds: exit non-zero with one line that names the
// listener, its address and the config key to change, and no stack trace.

const BIN = join(REPO_ROOT, 'bin', 'passerelle.js');

/** A TCP port this test holds for the whole subtest. */
async function holdPort(t: Test): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** A copy of the example config/ in a temp dir, with the HTTP and MLLP ports given. */
function configCopy(t: Test, ports: { http: number; mllp: number }): string {
  const root = mkdtempSync(join(tmpdir(), 'passerelle-port-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'config');
  cpSync(join(REPO_ROOT, 'config'), dir, { recursive: true });
  const edit = (file: string, from: string, to: string): void => {
    const text = readFileSync(join(dir, file), 'utf8');
    if (!text.includes(from)) throw new Error(`${file} no longer has ${from}`);
    writeFileSync(join(dir, file), text.replace(from, to));
  };
  edit('gateway.yaml', 'port: 8080', `port: ${ports.http}`);
  edit('feeds.yaml', 'port: 2575', `port: ${ports.mllp}`);
  return dir;
}

/** Runs `passerelle start` to its exit; a start that does not fail is stopped and reported. */
function start(dir: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'gateway', 'cli.js'))) throw new Error('dist/ missing: run `npm run build` (npm test does)');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'start', '--config', dir], { cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
      // It started after all: stop it so the test fails on the exit code instead of hanging.
      if (stdout.includes('gateway listening')) child.kill('SIGTERM');
    });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function oneLineAbout(t: Test, r: { status: number | null; stdout: string; stderr: string }, parts: readonly string[]): void {
  t.not(r.status, 0, 'exit code is non-zero');
  t.not(r.status, null, 'exited by itself');
  const output = `${r.stdout}${r.stderr}`;
  t.notMatch(output, /^\s+at /m, 'no stack trace');
  const lines = r.stderr.split('\n').filter(Boolean);
  t.equal(lines.length, 1, 'one line on stderr');
  for (const part of parts) t.match(lines[0], part, `names ${part}`);
  t.match(lines[0], /already in use/);
  t.match(lines[0], /fix: /, 'gives a fix hint');
  t.equal(output.split('\n').filter((l) => parts.every((p) => l.includes(p))).length, 1, 'said once');
}

t.test('the HTTP API port is taken', async (t) => {
  const port = await holdPort(t);
  const r = await start(configCopy(t, { http: port, mllp: 0 }));
  oneLineAbout(t, r, ['HTTP API', `127.0.0.1:${port}`, 'gateway.yaml: http.port']);
});

t.test("an MLLP feed's port is taken", async (t) => {
  const port = await holdPort(t);
  const r = await start(configCopy(t, { http: 0, mllp: port }));
  oneLineAbout(t, r, ['feed bioplus-results (MLLP)', `127.0.0.1:${port}`, 'feeds.yaml: feeds[1].mllp.port']);
});
