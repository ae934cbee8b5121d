import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from './core/ports.js';

/** The gateway's Prometheus metrics, on a registry of its own (no global state across instances). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'passerelle_http_requests_total', help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const, registers: [this.registry],
  });
  readonly rawStored = new Counter({
    name: 'passerelle_raw_stored_total', help: 'raw messages accepted, by feed and outcome (stored | duplicate)',
    labelNames: ['feed', 'format', 'outcome'] as const, registers: [this.registry],
  });
  readonly controlIdReused = new Counter({
    name: 'passerelle_control_id_reused_total', help: 'messages stored as new although their control id (MSH-10, X-Source-Ref) was seen on the feed with other content',
    labelNames: ['feed'] as const, registers: [this.registry],
  });
  readonly rawRejected = new Counter({
    name: 'passerelle_raw_rejected_total', help: 'raw messages refused before storage, by feed and error code',
    labelNames: ['feed', 'code'] as const, registers: [this.registry],
  });
  readonly storeLatency = new Histogram({
    name: 'passerelle_store_latency_seconds', help: 'store operation latency',
    labelNames: ['op'] as const, registers: [this.registry],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  });

  readonly intakePaused = new Gauge({
    name: 'passerelle_intake_paused', help: '1 while intake waits because the normalize backlog is full (normalize.maxBacklog)', registers: [this.registry],
  });
  readonly normalizeOutcomes = new Counter({
    name: 'passerelle_normalize_total', help: 'normalize queue items by format and outcome (ok | rejected | already | retry | dead | lease-lost)',
    labelNames: ['format', 'outcome'] as const, registers: [this.registry],
  });
  readonly normalizeRecords = new Counter({
    name: 'passerelle_normalize_records_total', help: 'canonical records written by the normalize worker, by type and status (created | updated | unchanged)',
    labelNames: ['type', 'status'] as const, registers: [this.registry],
  });
  readonly normalizeSeconds = new Histogram({
    name: 'passerelle_normalize_seconds', help: 'time from claim to outcome per normalized raw (normalize + store writes)',
    registers: [this.registry], buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
  });

  /**
   * @param store - queried on each scrape for queue depth and oldest age
   * @param queues - the queue names to report
   */
  constructor(store: Store, queues: readonly string[]) {
    collectDefaultMetrics({ register: this.registry, prefix: 'passerelle_process_' });
    // Gauges serialize in registration order, so the one that collects comes first and sets the others.
    const scrapeOk = new Gauge({ name: 'passerelle_queue_scrape_ok', help: '1 when queue statistics could be read on the last scrape', registers: [this.registry] });
    const oldest = new Gauge({ name: 'passerelle_queue_oldest_age_seconds', help: 'age of the oldest waiting item per queue', labelNames: ['queue'] as const, registers: [] });
    const dead = new Gauge({ name: 'passerelle_queue_dead_letters', help: 'dead-lettered items per queue', labelNames: ['queue'] as const, registers: [] });
    const inFlight = new Gauge({ name: 'passerelle_queue_in_flight', help: 'claimed, not yet completed items per queue', labelNames: ['queue'] as const, registers: [] });
    new Gauge({
      name: 'passerelle_queue_depth', help: 'items waiting per queue', labelNames: ['queue'] as const, registers: [this.registry],
      async collect() {
        try {
          for (const queue of queues) {
            const s = await store.queueStats(queue);
            this.set({ queue }, s.depth);
            oldest.set({ queue }, s.oldestAgeMs / 1000);
            dead.set({ queue }, s.dead);
            inFlight.set({ queue }, s.inFlight);
          }
          scrapeOk.set(1);
        } catch {
          scrapeOk.set(0);
        }
      },
    });
    for (const gauge of [oldest, dead, inFlight]) this.registry.registerMetric(gauge);
    new Gauge({
      name: 'passerelle_identity_conflicts_open', help: 'identity conflicts waiting for an admin (GET /v1/admin/identity-conflicts)', registers: [this.registry],
      async collect() {
        try {
          this.set((await store.identityConflicts({ status: 'open' })).length);
        } catch {
          // The queue scrape gauge already reports an unreachable store.
        }
      },
    });
  }

  /** Times a store call into the latency histogram. */
  async timeStore<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const end = this.storeLatency.startTimer({ op });
    try {
      return await fn();
    } finally {
      end();
    }
  }
}
