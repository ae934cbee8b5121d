/**
 * Does normalization keep pace with intake? The real gateway (`bin/passerelle.js start`, child
 * process, the example config plus one MLLP feed, LMDB in a temp dir) takes enhanced-mode HL7 over
 * 16 MLLP connections at stepped offered rates, then as fast as it acknowledges. Each message asks
 * for both ACKs (MSH-15/16 AL): the commit ACK (CA) says it is durable, the application ACK
 * (AA/AE) that the normalize worker is done with it, so lag = CA → application ACK, per message.
 * The traffic is hospital-like: distinct patients registered (ADT^A04), their results (ORU^R01,
 * 3-6 OBX), updates of earlier patients (ADT^A08). Then, same config with `normalize.enabled:
 * false`, the intake-only ceiling. When the first fixed step already falls behind, a probe step at
 * 80% of the rate the worker reached there (on a fresh gateway) gives the verdict a number.
 * Resource figures come from /proc/<gateway pid> and the store's block device (on tmpfs the device
 * figure is missing; set TMPDIR to a disk path). The load generator shares the machine with the gateway, as a local
 * sender would.
 *
 * Run: npm run bench -- pipeline   (PIPELINE_STEP_SECONDS=10 for a quick run; default 60)
 */
import { loadavg, cpus } from 'node:os';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { AppAckTracker } from './lib/app-ack-tracker.js';
import { writeBenchConfig, type BenchConfig } from './lib/bench-config.js';
import { GatewayProcess } from './lib/gateway-process.js';
import { MllpSender } from './lib/mllp-load.js';
import { PatientTraffic, type GeneratedMessage } from './lib/patient-messages.js';
import { judge, printReport, type StepRow } from './lib/pipeline-report.js';
import { drain, runStep } from './lib/pipeline-step.js';

const STEP_SECONDS = Number(process.env.PIPELINE_STEP_SECONDS ?? 60);
const CONNECTIONS = 16;
const RATES = [100, 200, 400, 800];
const FEED = 'bench-mllp';
/** dist/bench/ → the repository root (bin/ and config/). */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Bounded waits, so a gateway that falls far behind cannot stretch the run. */
const SETTLE_MS = Math.min(15, STEP_SECONDS) * 1000;
const MAX_SETTLE_MS = Math.min(5, STEP_SECONDS) * 1000;
const DRAIN_MS = Math.min(30, Math.max(10, STEP_SECONDS / 2)) * 1000;

if (!Number.isFinite(STEP_SECONDS) || STEP_SECONDS < 2) throw new Error('PIPELINE_STEP_SECONDS must be a number ≥ 2');

interface Running {
  config: BenchConfig;
  gateway: GatewayProcess;
  senders: MllpSender[];
  traffic: Array<() => GeneratedMessage>;
  tracker: AppAckTracker;
  /** Closes the connections, stops the gateway, removes its temp dir; returns its warnings. */
  close(): Promise<ReadonlyMap<string, number>>;
}

/** What must not outlive the bench, even when it fails or is interrupted: gateway children, temp dirs. */
const leftovers = new Set<() => void>();
process.once('exit', () => { for (const undo of leftovers) undo(); });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

/** Starts a gateway on a fresh copy of the example config and opens the connections. */
async function open(normalize: boolean, tag: string): Promise<Running> {
  const config = await writeBenchConfig({ source: join(REPO, 'config'), feed: FEED, connections: CONNECTIONS, normalize });
  const removeDir = (): void => rmSync(config.dir, { recursive: true, force: true });
  leftovers.add(removeDir);
  const gateway = await GatewayProcess.start(REPO, config);
  const kill = (): void => gateway.kill();
  leftovers.add(kill);
  const tracker = new AppAckTracker();
  const senders = await Promise.all(Array.from({ length: CONNECTIONS }, () =>
    MllpSender.open(config.mllpPort, (controlId, code, at) => tracker.normalized(controlId, code, at))));
  const traffic = senders.map((_, c) => {
    const stream = new PatientTraffic({ prefix: `${tag}C${c}`, seed: 1 + c });
    return () => stream.next();
  });
  return {
    config, gateway, senders, traffic, tracker,
    async close() {
      for (const s of senders) s.close();
      await gateway.stop();
      leftovers.delete(kill);
      removeDir();
      leftovers.delete(removeDir);
      return gateway.warnings;
    },
  };
}

const started = performance.now();
const load0 = loadavg();
const tag = Date.now().toString(36).slice(-4).toUpperCase();
process.stdout.write(`pipeline: ${CONNECTIONS} MLLP connections, enhanced mode, steps of ${STEP_SECONDS} s; `
  + `${cpus().length} cores, load average ${load0.map((l) => l.toFixed(2)).join(' ')} before the run\n`);

const rows: StepRow[] = [];
const notes: string[] = [];
const warnings = new Map<string, number>();

/** Runs `body` on a fresh gateway and its connections, then stops it and keeps its warnings. */
async function onGateway(normalize: boolean, streamTag: string, body: (r: Running) => Promise<void>): Promise<void> {
  const running = await open(normalize, `${tag}${streamTag}`);
  try {
    // Warm-up (JIT, first LMDB pages), not reported; drained so the first step starts on an empty queue.
    await runStep({ ...running, step: 0, label: 'warm-up', offered: 50, seconds: 2, settleMs: 0 });
    if (normalize && !(await drain(running.gateway, running.tracker, DRAIN_MS))) {
      notes.push(`A first step started on a backlog: the warm-up had not drained after ${DRAIN_MS / 1000} s.`);
    }
    await body(running);
  } finally {
    for (const [msg, n] of await running.close()) warnings.set(msg, (warnings.get(msg) ?? 0) + n);
  }
}

/** When the first fixed step falls behind: a step at 80% of the rate the worker managed there. */
let probe: number | undefined;
await onGateway(true, 'N', async (running) => {
  let step = 1;
  let anyKept = false;
  for (const rate of RATES) {
    const m = await runStep({ ...running, step: step++, label: `${rate} msg/s`, offered: rate, seconds: STEP_SECONDS, settleMs: SETTLE_MS });
    const row = judge(m, true);
    rows.push(row);
    process.stdout.write(`  ${m.label}: ${row.keptPace ? 'kept pace' : 'fell behind'}\n`);
    if (row.keptPace) {
      anyKept = true;
      continue;
    }
    const skipped = RATES.filter((r) => r > rate);
    if (skipped.length > 0) notes.push(`Steps ${skipped.join(', ')} msg/s skipped: normalization already fell behind at ${rate} msg/s.`);
    const guess = m.normalized === undefined ? 0 : Math.floor((0.8 * m.normalized) / m.seconds);
    // Only below the first step: once a step kept pace, the verdict has its number.
    if (!anyKept && guess >= 2) probe = guess;
    break;
  }
  if (!(await drain(running.gateway, running.tracker, DRAIN_MS))) {
    notes.push(`The "max, normalize on" step started on a backlog: the queue had not drained after ${DRAIN_MS / 1000} s.`);
  }
  rows.push(judge(await runStep({ ...running, step, label: 'max, normalize on', offered: Infinity, seconds: STEP_SECONDS, settleMs: MAX_SETTLE_MS }), true));
});

if (probe !== undefined) {
  const rate = probe;
  // A fresh gateway: the failed step's backlog would take longer to drain than the step itself.
  await onGateway(true, 'P', async (running) => {
    const row = judge(await runStep({ ...running, step: 1, label: `${rate} msg/s (probe)`, offered: rate, seconds: STEP_SECONDS, settleMs: SETTLE_MS }), true);
    rows.unshift(row);
    process.stdout.write(`  ${row.measure.label}: ${row.keptPace ? 'kept pace' : 'fell behind'}\n`);
  });
  notes.push(`The probe step (${rate} msg/s: 80% of what the worker normalized in the first step that fell behind) ran on a fresh gateway and store.`);
}

await onGateway(false, 'I', async (running) => {
  rows.push(judge(await runStep({ ...running, step: 1, label: 'max, normalize off', offered: Infinity, seconds: STEP_SECONDS, settleMs: 0 }), false));
});

notes.push(
  'intake = commit ACKs (CA) per second; accept = send → CA; lag = CA → application ACK of the same message (≥: some were still missing, counted at the time waited).',
  'normalized = passerelle_normalize_total completions per second of sending; queue = passerelle_queue_depth and _in_flight{queue="normalize"} when sending stopped.',
  'kept pace = every application ACK arrived within the settle time, lag p99 ≤ 2 s, and the backlog not both over 1 s of intake and growing by more than 5% of intake.',
  'written, CPU: /proc/<gateway pid> deltas over the step and its settle time, per accepted message; RSS and LMDB data.mdb size after it.',
  'written = bytes the gateway passed to write system calls (wchar: LMDB pages, plus ACKs and logs); (device) = sectors written to the store\'s disk over the same window, machine wide.',
  'write_bytes = the kernel\'s per-process write accounting: with large page-cache folios (ext4, Linux ≥ 6.x) it counts a whole folio for each dirtied 4 KB page, so it over-states random writes; shown for comparison with earlier figures.',
  'load generator CPU: this bench process (16 senders, message generation, ACK parsing) over the same window, % of one core; it shares the machine with the gateway.',
  'The gateway keeps at most 10 000 owed application ACKs per feed: in a step far behind, the oldest are dropped, so lag there is a lower bound.',
);
if (warnings.size > 0) notes.push(`Gateway warnings: ${[...warnings].map(([m, n]) => `${m} ×${n}`).join('; ')}`);
notes.push(`Load average after the run: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; run took ${((performance.now() - started) / 1000).toFixed(0)} s.`);
printReport(rows, notes);
