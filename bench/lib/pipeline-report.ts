/**
 * The pipeline bench's judgement and table: per step, did normalization keep pace with intake, and
 * what did it cost the gateway process.
 */
import { percentile, sortedSamples } from './stats.js';
import type { StepMeasure } from './pipeline-step.js';

/** One printed row. */
export interface StepRow {
  measure: StepMeasure;
  /** Whether the step measured normalization (false: intake-only gateway). */
  withNormalize: boolean;
  accepted: number;
  intakeRate: number;
  keptPace: boolean | undefined;
  /** Why it did not keep pace (empty when it did). */
  reasons: string[];
}

/** Lag p99 above this is not "keeping pace", whatever the queue does. */
const LAG_P99_LIMIT_MS = 2000;

/**
 * Normalization keeps pace when, by the end of the step's settle time, every accepted message got
 * its application ACK, lag p99 stayed under 2 s, and the backlog (waiting + claimed) is not both
 * over one second of intake and growing by more than 5% of the intake rate. A batching worker may
 * hold a large claimed batch; that alone is not falling behind.
 * @param m - the step's measures
 * @param withNormalize - false for the intake-only gateway (no verdict)
 */
export function judge(m: StepMeasure, withNormalize: boolean): StepRow {
  const accepted = m.senders.reduce((a, s) => a + s.acceptMs.length, 0);
  const intakeRate = accepted / m.seconds;
  if (!withNormalize) return { measure: m, withNormalize, accepted, intakeRate, keptPace: undefined, reasons: [] };
  const reasons: string[] = [];
  const backlog = m.end.queueDepth + m.end.inFlight;
  const lagP99 = percentile(sortedSamples(m.lags), 0.99);
  if (m.lagLowerBounds > 0) reasons.push(`${m.lagLowerBounds} application ACKs still missing after settling`);
  else if (lagP99 > LAG_P99_LIMIT_MS) reasons.push(`lag p99 over ${LAG_P99_LIMIT_MS / 1000} s`);
  if (backlog > Math.max(10, intakeRate) && m.backlogSlope > Math.max(2, 0.05 * intakeRate)) {
    reasons.push(`backlog ${backlog} and growing ${m.backlogSlope.toFixed(0)}/s`);
  }
  return { measure: m, withNormalize, accepted, intakeRate, keptPace: reasons.length === 0, reasons };
}

const f0 = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : '–');
const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '–');

/** Prints the Markdown table, the footnotes that apply, and the verdict line. */
export function printReport(rows: readonly StepRow[], notes: readonly string[]): void {
  const head = ['step', 'offered msg/s', 'intake msg/s', 'accept p50 ms', 'accept p99 ms', 'lag p50 ms', 'lag p99 ms', 'normalized msg/s',
    'queue at end (in flight)', 'kept pace', 'written KB/msg (device)', 'write_bytes KB/msg', 'RSS MB', 'CPU s (% of 1 core)', 'load generator CPU', 'LMDB MB'];
  const out = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const m = r.measure;
    const accept = sortedSamples(m.senders.flatMap((s) => s.acceptMs));
    const lags = sortedSamples(m.lags);
    const bound = m.lagLowerBounds > 0 ? '≥' : '';
    const failed = m.senders.filter((s) => s.failed).length;
    const refused = m.senders.reduce((a, s) => a + s.notAccepted, 0);
    out.push(`| ${[
      m.label + (failed > 0 ? ` (${failed} conns failed)` : '') + (refused > 0 ? ` (${refused} not CA)` : ''),
      Number.isFinite(m.offered) ? f0(m.offered) : 'max',
      f0(r.intakeRate), f1(percentile(accept, 0.5)), f1(percentile(accept, 0.99)),
      r.withNormalize ? `${bound}${f0(percentile(lags, 0.5))}` : '–', r.withNormalize ? `${bound}${f0(percentile(lags, 0.99))}` : '–',
      r.withNormalize && m.normalized !== undefined ? f0(m.normalized / m.seconds) : '–',
      `${f0(m.end.queueDepth)} (${f0(m.end.inFlight)})`,
      r.keptPace === undefined ? '–' : r.keptPace ? 'yes' : `NO: ${r.reasons.join('; ')}`,
      `${f1(m.proc.writeCallBytes / Math.max(1, r.accepted) / 1024)} (${f1(m.deviceWrittenBytes / Math.max(1, r.accepted) / 1024)})`,
      f0(m.proc.writeBytes / Math.max(1, r.accepted) / 1024), f0(m.proc.rssBytes / 2 ** 20),
      `${f1(m.proc.cpuSeconds)} (${f0((100 * m.proc.cpuSeconds) / m.cpuWallSeconds)}%)`,
      `${f0((100 * m.senderCpuSeconds) / m.cpuWallSeconds)}%`, f1(m.storeBytes / 2 ** 20),
    ].join(' | ')} |`);
  }
  process.stdout.write(`\n${out.join('\n')}\n\n`);
  for (const r of rows) {
    // AA is the expected answer for this traffic; anything else means the normalizer found errors in it.
    const other = [...r.measure.appCodes].filter(([code]) => code !== 'AA');
    if (other.length > 0) process.stdout.write(`${r.measure.label}: application ACKs ${other.map(([c, n]) => `${c} ×${n}`).join(', ')} (not AA)\n`);
  }
  for (const n of notes) process.stdout.write(`${n}\n`);
  process.stdout.write(`\n${verdict(rows)}\n`);
}

/** "normalization keeps pace up to N msg/s on this machine", from the highest step that kept pace. */
export function verdict(rows: readonly StepRow[]): string {
  const judged = rows.filter((r) => r.keptPace !== undefined);
  const kept = judged.filter((r) => r.keptPace);
  const best = kept.reduce<StepRow | undefined>((a, r) => (!a || r.intakeRate > a.intakeRate ? r : a), undefined);
  const intakeOnly = rows.find((r) => !r.withNormalize);
  const ceiling = intakeOnly ? `; intake alone (normalize off) takes ${f0(intakeOnly.intakeRate)} msg/s` : '';
  if (!best) {
    const first = judged[0];
    const normRate = first?.measure.normalized === undefined ? '' : `, normalizing ${f0(first.measure.normalized / first.measure.seconds)} msg/s`;
    return `normalization does NOT keep pace even at the lowest step (${first ? f0(first.intakeRate) : '?'} msg/s intake${normRate}) on this machine${ceiling}`;
  }
  const atMax = !Number.isFinite(best.measure.offered);
  return `normalization keeps pace up to ${f0(best.intakeRate)} msg/s on this machine`
    + `${atMax ? ' (the highest intake the gateway reached with the worker running)' : ` (offered ${f0(best.measure.offered)} msg/s)`}${ceiling}`;
}
