/**
 * One step of the pipeline bench: every connection sends at its share of the offered rate for the
 * step's duration; then the step settles (waits, bounded, for its application ACKs) so the lag of
 * its last messages is measured too. Queue depth is sampled from /metrics during the step.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppAckTracker } from './app-ack-tracker.js';
import type { GatewayMetrics, GatewayProcess, ProcSample } from './gateway-process.js';
import { paced, type MllpSender, type SenderResult } from './mllp-load.js';
import type { GeneratedMessage } from './patient-messages.js';

/** Everything measured in one step, before any judgement. */
export interface StepMeasure {
  label: string;
  /** Offered msg/s over all connections; Infinity = as fast as commit ACKs come back. */
  offered: number;
  /** Sending time, s (first slot to the last commit ACK). */
  seconds: number;
  senders: SenderResult[];
  lags: number[];
  /** Lags that are lower bounds (application ACK still missing when the step settled). */
  lagLowerBounds: number;
  appCodes: ReadonlyMap<string, number>;
  /** Normalize outcomes completed during the sending window (from /metrics); undefined if unknown. */
  normalized: number | undefined;
  /** /metrics when sending stopped. */
  end: GatewayMetrics;
  /** Backlog (waiting + in flight) growth over the second half of the step, items/s. */
  backlogSlope: number;
  /** /proc deltas over the step and its settle time, and RSS / store size after it. */
  proc: ProcSample;
  /** Written to the store's block device over the same window, machine wide (NaN on tmpfs). */
  deviceWrittenBytes: number;
  cpuWallSeconds: number;
  /** CPU of this process (the load generator, on the same machine) over the same window. */
  senderCpuSeconds: number;
  storeBytes: number;
}

/** Options for {@link runStep}. */
export interface StepOptions {
  gateway: GatewayProcess;
  senders: readonly MllpSender[];
  traffic: ReadonlyArray<() => GeneratedMessage>;
  tracker: AppAckTracker;
  /** Step number (groups lags in the tracker). */
  step: number;
  label: string;
  offered: number;
  seconds: number;
  /** Longest wait for the step's application ACKs after sending stopped, ms (0: none awaited). */
  settleMs: number;
}

/** Runs one step and measures it. */
export async function runStep(o: StepOptions): Promise<StepMeasure> {
  const before = o.gateway.proc();
  const deviceBefore = o.gateway.deviceWrittenBytes();
  const senderCpu = process.cpuUsage();
  const m0 = await o.gateway.metrics();
  const t0 = performance.now();
  const start = t0 + 20;
  const end = start + o.seconds * 1000;
  const samples: Array<{ at: number; backlog: number }> = [];
  const sampling = sampleBacklog(o.gateway, end, samples);
  const perConnection = o.offered / o.senders.length;
  const results = await Promise.all(o.senders.map((sender, c) => paced({
    sender, next: o.traffic[c]!, rate: perConnection,
    // Connections start staggered across one slot so the offered load is smooth, not 16-message bursts.
    start: Number.isFinite(o.offered) ? start + (c * 1000) / o.offered : start, end,
    onAccepted: (controlId, at) => o.tracker.accepted(controlId, o.step, at),
  })));
  const stopped = performance.now();
  await sampling;
  const endMetrics = await o.gateway.metrics();
  const settleUntil = performance.now() + o.settleMs;
  while (o.tracker.pending(o.step) > 0 && performance.now() < settleUntil) await sleep(50);
  const after = o.gateway.proc();
  const deviceAfter = o.gateway.deviceWrittenBytes();
  const senderUsed = process.cpuUsage(senderCpu);
  const { lags, lowerBounds } = o.tracker.lags(o.step, performance.now());
  const normalized = m0.normalized === undefined || endMetrics.normalized === undefined ? undefined : endMetrics.normalized - m0.normalized;
  return {
    label: o.label, offered: o.offered, seconds: (stopped - start) / 1000, senders: results, lags, lagLowerBounds: lowerBounds,
    appCodes: o.tracker.codes(o.step), normalized, end: endMetrics, backlogSlope: slope(samples, start + (end - start) / 2),
    proc: {
      writeCallBytes: after.writeCallBytes - before.writeCallBytes, writeBytes: after.writeBytes - before.writeBytes,
      rssBytes: after.rssBytes, cpuSeconds: after.cpuSeconds - before.cpuSeconds,
    },
    deviceWrittenBytes: deviceAfter - deviceBefore,
    cpuWallSeconds: (performance.now() - t0) / 1000, senderCpuSeconds: (senderUsed.user + senderUsed.system) / 1e6, storeBytes: o.gateway.storeBytes(),
  };
}

/**
 * Waits until the normalize queue is empty (nothing waiting or claimed), at most `maxMs`, then
 * briefly for the application ACKs still on their way.
 * @returns whether it drained
 */
export async function drain(gateway: GatewayProcess, tracker: AppAckTracker, maxMs: number): Promise<boolean> {
  const until = performance.now() + maxMs;
  for (;;) {
    const m = await gateway.metrics();
    if (m.queueDepth + m.inFlight === 0) break;
    if (performance.now() >= until) return false;
    await sleep(250);
  }
  // The last outcomes' ACKs are on the wire; ACKs the gateway dropped (over its owed-ACK cap) never come.
  const acks = performance.now() + 1000;
  while (tracker.pendingTotal > 0 && performance.now() < acks) await sleep(50);
  return true;
}

/** Backlog once a second until `end` (one scrape at a time: the queue scan is O(depth)). */
async function sampleBacklog(gateway: GatewayProcess, end: number, into: Array<{ at: number; backlog: number }>): Promise<void> {
  while (performance.now() < end) {
    await sleep(Math.min(1000, Math.max(0, end - performance.now())));
    const m = await gateway.metrics();
    into.push({ at: performance.now(), backlog: m.queueDepth + m.inFlight });
  }
}

/** Least-squares slope (items/s) of the samples taken after `from`. */
function slope(samples: ReadonlyArray<{ at: number; backlog: number }>, from: number): number {
  const s = samples.filter((x) => x.at >= from);
  if (s.length < 2) return 0;
  const mx = s.reduce((a, x) => a + x.at, 0) / s.length;
  const my = s.reduce((a, x) => a + x.backlog, 0) / s.length;
  const num = s.reduce((a, x) => a + (x.at - mx) * (x.backlog - my), 0);
  const den = s.reduce((a, x) => a + (x.at - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 1000;
}
