/**
 * The real gateway as a child process (`node bin/passerelle.js start --config <dir>`), observed
 * from outside only: /ready, /metrics, and the kernel's accounting of the process in /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchConfig } from './bench-config.js';

/** Kernel figures for one process, cumulative since it started (except RSS). */
export interface ProcSample {
  /**
   * Bytes the process handed to write-family system calls (/proc/<pid>/io wchar): LMDB's page
   * writes, plus the little the gateway writes to sockets and its log pipe. This is what it
   * writes: on this machine's kernel (6.18, ext4 with large folios) the block device receives
   * the same amount.
   */
  writeCallBytes: number;
  /**
   * The kernel's write accounting (/proc/<pid>/io write_bytes). On kernels whose page cache uses
   * large folios it counts a whole folio (up to MBs) each time a 4 KB page in it is dirtied, so
   * it over-states random 4 KB writes many times over; shown beside writeCallBytes, not used.
   */
  writeBytes: number;
  /** Resident set size (/proc/<pid>/status VmRSS). */
  rssBytes: number;
  /** User + system CPU time (/proc/<pid>/stat utime + stime). */
  cpuSeconds: number;
}

/** The /metrics series the pipeline bench reads. */
export interface GatewayMetrics {
  /** passerelle_queue_depth{queue="normalize"}: waiting, not claimed. */
  queueDepth: number;
  /** passerelle_queue_in_flight{queue="normalize"}: claimed, not yet completed. */
  inFlight: number;
  /** Sum of passerelle_normalize_total over final outcomes; undefined when the series is absent. */
  normalized: number | undefined;
}

/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 on every mainstream build). */
const USER_HZ = 100;
/** passerelle_normalize_total outcomes that finish a queue item (retry and lease-lost do not). */
const FINAL_OUTCOMES = new Set(['ok', 'rejected', 'already', 'dead']);

/** A running gateway child process. */
export class GatewayProcess {
  readonly #child: ChildProcess;
  readonly #config: BenchConfig;
  readonly #logTail: string[] = [];
  /** Distinct log messages (pino `msg`, constant texts) at warn and above, with counts. */
  readonly warnings = new Map<string, number>();
  #exited = false;

  private constructor(child: ChildProcess, config: BenchConfig) {
    this.#child = child;
    this.#config = config;
    child.once('exit', () => { this.#exited = true; });
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.#onLine(line);
      });
    }
  }

  /**
   * Starts the gateway on `config` and resolves once /ready answers 200.
   * @param repoRoot - the directory holding bin/passerelle.js (which runs the compiled dist/)
   * @param config - written by writeBenchConfig
   */
  static async start(repoRoot: string, config: BenchConfig): Promise<GatewayProcess> {
    // PIPELINE_GATEWAY_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the gateway, not the load.
    const nodeArgs = (process.env.PIPELINE_GATEWAY_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const child = spawn(process.execPath, [...nodeArgs, join(repoRoot, 'bin', 'passerelle.js'), 'start', '--config', config.dir], {
      cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const gw = new GatewayProcess(child, config);
    child.once('error', () => { gw.#exited = true; });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (gw.#exited) throw new Error(`gateway exited during start:\n${gw.#logTail.join('\n')}`);
      try {
        if ((await fetch(`${gw.url}/ready`)).status === 200) return gw;
      } catch {
        // Not listening yet.
      }
      await sleep(100);
    }
    await gw.stop();
    throw new Error(`gateway not ready after 30 s:\n${gw.#logTail.join('\n')}`);
  }

  /** Base URL of the gateway's HTTP listener. */
  get url(): string {
    return `http://127.0.0.1:${this.#config.httpPort}`;
  }

  /** The child's process id (what /proc is read for). */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Reads the kernel's counters for the gateway process. */
  proc(): ProcSample {
    const io = readFileSync(`/proc/${this.pid}/io`, 'utf8');
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may hold spaces): utime and stime are fields 14 and 15.
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      writeCallBytes: Number(/^wchar:\s*(\d+)/m.exec(io)?.[1] ?? Number.NaN),
      writeBytes: Number(/^write_bytes:\s*(\d+)/m.exec(io)?.[1] ?? Number.NaN),
      rssBytes: Number(/^VmRSS:\s*(\d+)\s*kB/m.exec(status)?.[1] ?? Number.NaN) * 1024,
      cpuSeconds: (Number(after[11]) + Number(after[12])) / USER_HZ,
    };
  }

  /**
   * Bytes written to the block device holding the store (/sys/dev/block/<dev>/stat), machine
   * wide: the cross-check that the gateway's writes are what reaches the disk. NaN when the store
   * is not on a block device (tmpfs).
   */
  deviceWrittenBytes(): number {
    try {
      const dev = statSync(this.#config.lmdbPath).dev;
      // Linux dev_t: major in bits 8-19, minor in bits 0-7 and 20-31.
      const major = (dev >> 8) & 0xfff;
      const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
      const fields = readFileSync(`/sys/dev/block/${major}:${minor}/stat`, 'utf8').trim().split(/\s+/);
      // Field 7: sectors written, in 512-byte units whatever the device's sector size.
      return Number(fields[6]) * 512;
    } catch {
      return Number.NaN;
    }
  }

  /** Size of the LMDB data file now (bytes). */
  storeBytes(): number {
    return statSync(join(this.#config.lmdbPath, 'data.mdb')).size;
  }

  /** Scrapes /metrics with the admin token. */
  async metrics(): Promise<GatewayMetrics> {
    const res = await fetch(`${this.url}/metrics`, { headers: { authorization: `Bearer ${this.#config.adminToken}` } });
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    const text = await res.text();
    let normalized: number | undefined;
    for (const m of text.matchAll(/^passerelle_normalize_total\{([^}]*)\} (\S+)$/gm)) {
      const outcome = /outcome="([^"]*)"/.exec(m[1]!)?.[1] ?? '';
      if (FINAL_OUTCOMES.has(outcome)) normalized = (normalized ?? 0) + Number(m[2]);
    }
    const gauge = (name: string): number => Number(new RegExp(`^${name}\\{queue="normalize"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { queueDepth: gauge('passerelle_queue_depth'), inFlight: gauge('passerelle_queue_in_flight'), normalized };
  }

  /** SIGTERM (graceful: feeds close, the worker finishes its item), SIGKILL after 20 s. */
  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = once(this.#child, 'exit');
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }

  /** Immediate SIGKILL, for a bench that is exiting without the time to stop gracefully. */
  kill(): void {
    if (!this.#exited) this.#child.kill('SIGKILL');
  }

  #onLine(line: string): void {
    if (line === '') return;
    this.#logTail.push(line);
    if (this.#logTail.length > 40) this.#logTail.shift();
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string };
      if ((entry.level ?? 0) >= 40) this.warnings.set(entry.msg ?? '?', (this.warnings.get(entry.msg ?? '?') ?? 0) + 1);
    } catch {
      // Not a pino line (e.g. a Node warning on stderr): kept in the tail only.
    }
  }
}
