/**
 * Shared by the normalize worker tests: a real LmdbStore in a temp dir, a tiny fake Normalizer
 * (only to drive reference rewriting, ordering and retries; real mappings are tested elsewhere),
 * and a worker wired to an in-memory log sink.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCAL_REF_PREFIX, type Normalized, type NormalizedRecord, type Normalizer, type Store } from '../../../../gateway/core/ports.js';
import type { Format, RawMessage } from '../../../../gateway/core/types.js';
import { loadSodium } from '../../../../protocol/crypto/sodium.js';
import { createLogger } from '../../../../gateway/log.js';
import { AtRestCipher } from '../../../../gateway/store/at-rest.js';
import { LmdbStore } from '../../../../gateway/store/lmdb-store.js';
import { NormalizationEventBus } from '../../../../gateway/pipeline/normalization-events.js';
import { NORMALIZE_QUEUE, NormalizeWorker, type NormalizeWorkerOptions } from '../../../../gateway/pipeline/normalize-worker.js';
import { makeRaw } from '../../../contract/store.conformance.js';
import { LogSink } from '../../../helpers/gateway.js';

const sodium = await loadSodium();
const cipher = new AtRestCipher(sodium, sodium.randombytes_buf(32));

/** What the fake normalizer reads from a raw body (JSON). */
export interface FakeMessage {
  mrn: string;
  family?: string;
  /** One Observation per code, each referring to the patient and the encounter. */
  obs?: string[];
  /** Add an Observation referring to a record that comes after it. */
  forward?: boolean;
  /** Make the normalizer throw. */
  explode?: boolean;
  /** Make the normalizer answer ok: false. */
  reject?: boolean;
}

const local = (ref: string): { reference: string } => ({ reference: `${LOCAL_REF_PREFIX}${ref}` });
const prov = (location: string): NormalizedRecord['provenance'] => ({
  // Deliberately wrong feed/participant/rawId: the worker must take them from the raw.
  feed: 'spoofed', participant: 'spoofed', rawId: 'spoofed', location, mapping: '', receivedAt: '1970-01-01T00:00:00.000Z',
});

/** Patient (MRN), Encounter, then one Observation per code; refs are local and nested. */
export const fakeNormalizer: Normalizer & { calls: number; onNormalize?: () => void } = {
  format: 'hl7v2',
  name: 'fake@1',
  calls: 0,
  normalize(raw: RawMessage): Normalized {
    this.calls++;
    this.onNormalize?.();
    const msg = JSON.parse(Buffer.from(raw.body).toString('utf8')) as FakeMessage;
    if (msg.explode) throw new RangeError(`mapping bug near ${msg.family ?? ''}`);
    if (msg.reject) return { ok: false, issues: [{ severity: 'fatal', code: 'structure', where: 'PID', message: 'PID segment is missing' }] };
    const records: NormalizedRecord[] = [
      {
        localRef: 'patient', resourceType: 'Patient', provenance: prov('PID[1]'),
        identifiers: [{ system: 'urn:oid:1.2.250.1.71.4.2.7', value: msg.mrn }],
        resource: { resourceType: 'Patient', identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.7', value: msg.mrn }], name: [{ family: msg.family ?? 'DOE' }] },
      },
      {
        localRef: 'enc', patientRef: 'patient', resourceType: 'Encounter', provenance: prov('PV1[1]'), identifiers: [],
        resource: { resourceType: 'Encounter', status: 'in-progress', subject: { ...local('patient'), display: 'kept' } },
      },
    ];
    if (msg.forward) {
      records.push({
        localRef: 'early', patientRef: 'patient', resourceType: 'Observation', provenance: prov('OBX[9]'), identifiers: [],
        resource: { resourceType: 'Observation', status: 'final', code: { text: 'early' }, hasMember: [{ ...local('late'), display: 'late one' }] },
      });
    }
    (msg.obs ?? []).forEach((code, i) => records.push({
      localRef: `obs-${i + 1}`, patientRef: 'patient', resourceType: 'Observation', provenance: prov(`OBX[${i + 1}]`), identifiers: [],
      resource: {
        resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] },
        subject: local('patient'), encounter: local('enc'),
        extension: [{ url: 'urn:test:deep', extension: [{ url: 'by', valueReference: local('enc') }] }],
        derivedFrom: [{ reference: 'Observation/external-1' }],
      },
    }));
    if (msg.forward) {
      records.push({ localRef: 'late', patientRef: 'patient', resourceType: 'Observation', provenance: prov('OBX[10]'), identifiers: [], resource: { resourceType: 'Observation', status: 'final', code: { text: 'late' } } });
    }
    return { ok: true, records, issues: [{ severity: 'warning', code: 'value', where: 'PID-8', message: 'PID-8 is not in table 0001' }] };
  },
};

/** A raw carrying a FakeMessage. */
export function fakeRaw(msg: FakeMessage, format: Format = 'hl7v2'): RawMessage {
  return { ...makeRaw({ feed: 'lab-oru', body: JSON.stringify(msg) }), participant: 'labo-bioplus', format };
}

/** A store in a temp dir that can be closed and reopened on the same files. */
export interface TempStore {
  store: Store;
  dir: string;
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

/** Opens a fresh LmdbStore in its own temp dir. */
export async function openTempStore(): Promise<TempStore> {
  const dir = await mkdtemp(join(tmpdir(), 'passerelle-norm-'));
  const sut: TempStore = {
    dir,
    store: await LmdbStore.open({ path: dir, cipher }),
    async reopen() {
      await sut.store.close();
      sut.store = await LmdbStore.open({ path: dir, cipher });
      return sut.store;
    },
    async cleanup() {
      await sut.store.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return sut;
}

/** Stores a raw and queues it for normalization, as the intake does. */
export async function submit(store: Store, raw: RawMessage): Promise<string> {
  const { rawId } = await store.putRaw(raw);
  await store.enqueue(NORMALIZE_QUEUE, { id: rawId, payload: { rawId } });
  return rawId;
}

/** A worker on the store with the fake normalizer, a bus and a log sink. */
export function makeWorker(store: Store, options: Partial<NormalizeWorkerOptions> = {}): { worker: NormalizeWorker; events: NormalizationEventBus; logs: LogSink } {
  const logs = new LogSink();
  const log = createLogger({ level: 'debug', destination: logs });
  const events = new NormalizationEventBus({ log });
  const worker = new NormalizeWorker({
    store, log, events, normalizers: new Map([['hl7v2', fakeNormalizer]]), idleMs: 20, backoff: { baseMs: 5, maxMs: 20 }, ...options,
  });
  return { worker, events, logs };
}
