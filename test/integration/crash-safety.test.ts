import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import { REPO_ROOT } from '../helpers/corpus.js';
import { writeTestConfig, type TestConfig } from '../helpers/gateway.js';

const BIN = join(REPO_ROOT, 'bin', 'passerelle.js');

/** Starts `passerelle start` in a child process and resolves with its URL once it listens. */
async function startChild(dir: string): Promise<{ child: ChildProcess; url: string }> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'gateway', 'cli.js'))) throw new Error('dist/ missing: run `npm run build` (npm test does)');
  const child = spawn(process.execPath, [BIN, 'start', '--config', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'gateway listening' && entry.url) resolve(entry.url);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited early with ${code}`)));
  });
  return { child, url };
}

async function crashAndRecover(t: Test, cfg: TestConfig): Promise<void> {
  const auth = { authorization: `Bearer ${cfg.tokens['chu-lyon']}` };
  const first = await startChild(cfg.dir);
  const acked = new Map<string, string>();
  let sent = 0;
  let killed = false;
  const worker = async (): Promise<void> => {
    while (!killed) {
      const body = `MSH|^~\\&|HIS|CHU|GW|GW|20261123||ADT^A01|C${sent}|P|2.5\rPID|1||${sent++}^^^CHU^MR\r`;
      try {
        const res = await fetch(`${first.url}/v1/raw/chu-adt`, { method: 'POST', body, headers: auth });
        if (res.status === 201) acked.set(((await res.json()) as { rawId: string }).rawId, createHash('sha256').update(body).digest('hex'));
        if (acked.size >= 400 && !killed) {
          killed = true;
          first.child.kill('SIGKILL');   // mid-stream: other workers still have requests in flight
        }
      } catch {
        // Connection reset by the kill: this request was never acknowledged, so it may be lost.
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  await new Promise((resolve) => first.child.exitCode !== null || first.child.signalCode !== null ? resolve(null) : first.child.once('exit', resolve));
  t.equal(first.child.signalCode, 'SIGKILL');
  t.ok(acked.size >= 400, `${acked.size} raws acknowledged before the kill`);

  const second = await startChild(cfg.dir);
  t.teardown(() => { second.child.kill('SIGTERM'); });
  const admin = { authorization: `Bearer ${cfg.tokens.ops}` };
  let found = 0;
  for (const [id, sha256] of acked) {
    const res = await fetch(`${second.url}/v1/raw/${id}`, { headers: admin });
    const meta = (await res.json()) as { sha256?: string };
    if (res.status === 200 && meta.sha256 === sha256) found++;
  }
  t.equal(found, acked.size, 'every acknowledged raw survived SIGKILL');

  second.child.kill('SIGTERM');
  const code = await new Promise((resolve) => second.child.once('exit', resolve));
  t.equal(code, 0, 'SIGTERM shuts down cleanly with exit 0');
}


for (const store of ['lmdb', 'redis'] as const) {
  t.test(`acknowledged raws survive kill -9 (${store})`, async (t) => {
    const cfg = writeTestConfig({ store });
    t.teardown(() => cfg.cleanup());
    await crashAndRecover(t, cfg);
  });
}
