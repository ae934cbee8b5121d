import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { NormalizationOutcome } from '../../../../gateway/core/ports.js';
import { createLogger } from '../../../../gateway/log.js';
import { NormalizeThread } from '../../../../gateway/pipeline/normalize-thread-host.js';

const script = new URL('../../../fixtures/normalize-thread-scripted.ts', import.meta.url);

function capture(): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } });
  return { log: createLogger({ level: 'info', destination: sink }), lines };
}

t.test('a thread that cannot open its store fails start() with the store code', async (t) => {
  const { log } = capture();
  const thread = new NormalizeThread({ script, workerData: () => ({ mode: 'fail-start' }), events: { publish: () => undefined }, log });
  await t.rejects(thread.start(), { code: 'PSL_STORE_UNAVAILABLE' });
  await thread.stop();
});

t.test('a thread that dies is restarted; reports, metrics and log lines reach the main thread', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'psl-thread-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { log, lines } = capture();
  const published: NormalizationOutcome[] = [];
  const counted: Array<[string, number]> = [];
  const metrics = {
    normalizeOutcomes: { inc: (l: { format: string; outcome: string }, n: number) => void counted.push([`${l.format}/${l.outcome}`, n]) },
    normalizeRecords: { inc: () => undefined },
    normalizeSeconds: { observe: () => undefined },
  };
  let spawns = 0;
  // Each start asks for its data afresh (the real one carries a new applier name per thread).
  const workerData = (): unknown => ({ mode: 'die-once', marker: join(dir, 'marker'), applier: `test-${++spawns}` });
  const thread = new NormalizeThread({ script, workerData, events: { publish: (o) => void published.push(o) }, metrics, log });
  await thread.start();
  thread.notify(); // the first life dies on it
  const deadline = Date.now() + 10_000;
  while (!lines.some((l) => l.includes('second life')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.ok(lines.some((l) => l.includes('"normalize thread exited; restarting it"') && l.includes('"exitCode":3')), 'the death is logged with its exit code');
  t.ok(lines.some((l) => l.includes('"second life"')), 'a new thread started and its log line was relayed');
  thread.notify();
  while (published.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.same(published.map((o) => o.rawId), ['raw_after_restart'], "the new thread's outcome is published here");
  t.same(counted, [['hl7v2/ok', 1]], 'its metrics are counted here');
  t.equal(spawns, 2, 'the restarted thread got its own data, so its own applier name');
  await thread.stop();
  t.notOk(lines.some((l) => l.includes('did not stop in time')), 'stop() waited for the thread to finish on its own');
});
