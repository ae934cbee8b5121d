import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../helpers/corpus.js';
import { writeTestConfig } from '../helpers/gateway.js';
import { ack, adt, MllpSender } from './mllp-support.js';

const MLLP_FEED = '  - name: chu-mllp\n    owner: chu-lyon\n    format: hl7v2\n    mllp:\n      port: 0\n      allowFrom: [127.0.0.1]\n';

interface Child { child: ChildProcess; port: number; messages: string[] }

/** `passerelle start` in a child; resolves once its MLLP feed and HTTP listen. */
async function startChild(dir: string): Promise<Child> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'gateway', 'cli.js'))) throw new Error('dist/ missing: run `npm run build` (npm test does)');
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'passerelle.js'), 'start', '--config', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    let mllp = 0;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg) messages.push(entry.msg);
      if (entry.msg === 'MLLP feed listening' && entry.port) mllp = entry.port;
      if (entry.msg === 'gateway listening') resolve(mllp);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited early with ${code}`)));
  });
  return { child, port, messages };
}

async function stop(c: Child): Promise<number | null> {
  if (c.child.exitCode !== null) return c.child.exitCode;
  const exited = new Promise<number | null>((resolve) => c.child.once('exit', resolve));
  c.child.kill('SIGTERM');
  return exited;
}

t.test('two processes on one Redis: the application ACK reaches the connection even when the other process normalized', async (t) => {
  const cfg = writeTestConfig({ store: 'redis', extraFeeds: MLLP_FEED });
  t.teardown(() => cfg.cleanup());
  // Same prefix, data key and feeds: a second gateway process of the same deployment.
  const dirB = `${cfg.dir}-b`;
  cpSync(cfg.dir, dirB, { recursive: true });
  t.teardown(() => rmSync(dirB, { recursive: true, force: true }));
  const gwA = join(cfg.dir, 'gateway.yaml');
  writeFileSync(gwA, `${readFileSync(gwA, 'utf8')}normalize:\n  enabled: false\n`);

  const a = await startChild(cfg.dir);
  t.teardown(() => stop(a));
  const b = await startChild(dirB);
  t.teardown(() => stop(b));
  t.ok(a.messages.includes('normalize worker disabled') && !a.messages.includes('normalize worker started'), 'A does not normalize');
  t.ok(b.messages.includes('normalize worker started'), 'B normalizes');

  const s = await MllpSender.connect(a.port);
  t.teardown(() => s.close());
  const commit = ack(await s.send(adt('XP-1', { ack: ['AL', 'AL'] })));
  t.equal(commit.get('MSA-1'), 'CA', 'commit ACK from A');
  const app = ack(await s.next(30_000));
  t.equal(app.get('MSA-1'), 'AA', 'application ACK on A\'s connection after B normalized');
  t.equal(app.get('MSA-2'), 'XP-1');

  t.equal(await stop(a), 0);
  t.equal(await stop(b), 0);
});
