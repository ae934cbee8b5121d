import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfig } from '../../gateway/config/load.js';
import { formatProblem } from '../../gateway/config/problems.js';
import { createLogger } from '../../gateway/log.js';
import { startGateway } from '../../gateway/main.js';
import { REPO_ROOT } from '../helpers/corpus.js';
import { LogSink, mustLoad, writeTestConfig } from '../helpers/gateway.js';
import { ack, adt, MllpSender } from './mllp-support.js';

// The whole gateway: feeds.yaml → MLLP listener → Intake → store → normalize worker → application ACK.

const MLLP_FEED = '  - name: chu-mllp\n    owner: chu-lyon\n    format: hl7v2\n    mllp:\n      port: 0\n      allowFrom: [127.0.0.1]\n';

t.test('configured feed: CA on commit, application ACK from the real normalize worker', async (t) => {
  const cfg = writeTestConfig({ store: 'lmdb', extraFeeds: MLLP_FEED });
  const logs = new LogSink();
  const gw = await startGateway(mustLoad(cfg.dir), createLogger({ level: 'info', destination: logs }));
  t.teardown(async () => {
    await gw.stop();
    await cfg.cleanup();
  });
  const port = gw.mllp.get('chu-mllp')?.port;
  t.ok(port, 'listener bound');
  const s = await MllpSender.connect(port!);
  t.teardown(() => s.close());
  t.equal(ack(await s.send(adt('GW-1'))).get('MSA-1'), 'AA', 'original mode');
  const commit = ack(await s.send(adt('GW-2', { ack: ['AL', 'AL'] })));
  t.equal(commit.get('MSA-1'), 'CA');
  const app = ack(await s.next(30_000));
  t.match(app.get('MSA-1'), /^A[AE]$/, 'application ACK after normalization');
  t.equal(app.get('MSA-2'), 'GW-2');
  t.notOk(logs.lines.some((l) => l.includes('DOE') || l.includes('12345^')), 'no message content in the logs');
});

t.test('config: an open plaintext feed is refused at load; insecure: true starts with a warning', async (t) => {
  const open = writeTestConfig({ store: 'lmdb', extraFeeds: MLLP_FEED.replace('      allowFrom: [127.0.0.1]\n', '') });
  t.teardown(() => open.cleanup());
  const refused = loadConfig(open.dir);
  t.equal(refused.ok, false);
  t.match(refused.ok ? '' : refused.problems.map(formatProblem).join('\n'), /feeds\.yaml:\d+:\d+ feeds\[2\]\.mllp\.allowFrom: a plaintext MLLP feed needs a source-address allow-list — fix: /);
  const insecure = writeTestConfig({ store: 'lmdb', extraFeeds: MLLP_FEED.replace('      allowFrom: [127.0.0.1]\n', '      insecure: true\n') });
  t.teardown(() => insecure.cleanup());
  const logs = new LogSink();
  const gw = await startGateway(mustLoad(insecure.dir), createLogger({ level: 'info', destination: logs }));
  t.teardown(() => gw.stop());
  t.ok(logs.lines.some((l) => l.includes('"level":40') && l.includes('MLLP feed is insecure')), 'warning logged at start');
  const s = await MllpSender.connect(gw.mllp.get('chu-mllp')!.port);
  t.teardown(() => s.close());
  t.equal(ack(await s.send(adt('INSECURE-1'))).get('MSA-1'), 'AA');
});

/** `passerelle start` in a child; resolves once both the MLLP feed and HTTP listen. */
async function startChild(dir: string): Promise<{ child: ChildProcess; port: number }> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'gateway', 'cli.js'))) throw new Error('dist/ missing: run `npm run build` (npm test does)');
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'passerelle.js'), 'start', '--config', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let mllp = 0;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg === 'MLLP feed listening' && entry.port) mllp = entry.port;
      if (entry.msg === 'gateway listening') resolve(mllp);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited early with ${code}`)));
  });
  return { child, port };
}

t.test('kill -9 mid-stream over MLLP loses no acknowledged message', async (t) => {
  const cfg = writeTestConfig({ store: 'lmdb', extraFeeds: MLLP_FEED.replace('port: 0', 'port: 0\n      maxConnections: 32') });
  t.teardown(() => cfg.cleanup());
  const first = await startChild(cfg.dir);
  /** ctrlId → MSH-10 of its ACK (derived from the raw id, so a replay proves the same raw). */
  const acked = new Map<string, string>();
  let killed = false;
  let n = 0;
  const worker = async (w: number): Promise<void> => {
    const s = await MllpSender.connect(first.port);
    try {
      while (!killed) {
        const ctrl = `K${w}-${n++}`;
        const reply = await s.send(adt(ctrl, { pid: String(n) })).catch(() => undefined);
        if (!reply) return; // connection reset by the kill: that message was never acknowledged
        const a = ack(reply);
        if (a.get('MSA-1') === 'AA') acked.set(ctrl, a.get('MSH-10'));
        if (acked.size >= 400 && !killed) {
          killed = true;
          first.child.kill('SIGKILL'); // other connections still have frames in flight
        }
      }
    } finally {
      s.close();
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
  await new Promise((resolve) => first.child.exitCode !== null || first.child.signalCode !== null ? resolve(null) : first.child.once('exit', resolve));
  t.equal(first.child.signalCode, 'SIGKILL');
  t.ok(acked.size >= 400, `${acked.size} messages acknowledged before the kill`);

  const second = await startChild(cfg.dir);
  t.teardown(() => { second.child.kill('SIGTERM'); });
  const s = await MllpSender.connect(second.port);
  let same = 0;
  for (const [ctrl, ackId] of acked) {
    const pid = ctrl.split('-')[1]!;
    // Resending is a duplicate of the stored raw: its original ACK comes back, same MSH-10.
    const a = ack(await s.send(adt(ctrl, { pid: String(Number(pid) + 1) })));
    if (a.get('MSA-1') === 'AA' && a.get('MSH-10') === ackId) same++;
  }
  s.close();
  t.equal(same, acked.size, 'every acknowledged message is in the store after SIGKILL');
  second.child.kill('SIGTERM');
  t.equal(await new Promise((resolve) => second.child.once('exit', resolve)), 0, 'SIGTERM closes the feed and exits 0');
});
