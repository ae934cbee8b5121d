/**
 * FHIR writes end to end: transaction Bundles of 20 resources (a Patient, an Encounter and 18 lab
 * Observations, each bundle a different patient) POSTed over real HTTP to a gateway child process
 * started from the example config (its FHIR feed, the normalize worker on, LMDB). A request's time
 * runs until its transaction-response: validated, durable, normalized into records, read back.
 * Then single creates of one Observation. Baseline in the same run, in this process: the library's
 * bare validation (`@medplum/core` validateResource) against the gateway's whole validation
 * (library + ElementChecks) of the same bundles, in resources per second.
 *
 * Run: npm run bench -- fhir   (BUNDLES=n, CONCURRENCY=c)
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateResource } from '@medplum/core';
import { R4Validator } from '../adapters/fhir/validate.js';
import { writeBenchConfig } from './lib/bench-config.js';
import { GatewayProcess } from './lib/gateway-process.js';
import { percentile } from './lib/stats.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUNDLES = Number(process.env.BUNDLES ?? 1000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const RESOURCES_PER_BUNDLE = 20;
const LOINC = ['2345-7', '2160-0', '2951-2', '2823-3', '2075-0', '1742-6', '1920-8', '6768-6', '1975-2', '2885-2', '3094-0', '17861-6', '2093-3', '2571-8', '718-7', '789-8', '4544-3', '777-3'];

/** A lab result as labs send them: LOINC code, UCUM quantity, reference range. */
function observation(n: number, i: number, code: string, links: object): object {
  const mmol = (value: number): object => ({ value, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' });
  return {
    resourceType: 'Observation', status: 'final',
    identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.9', value: `R${n}-${i}` }],
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code }] },
    ...links,
    effectiveDateTime: '2026-11-30T08:15:00+01:00', issued: '2026-11-30T10:02:11+01:00',
    valueQuantity: mmol(4 + (n % 7) / 10 + i),
    referenceRange: [{ low: mmol(3.9), high: mmol(5.8) }],
  };
}

/** One bundle per patient: identifiers differ across bundles, as a lab's traffic does. */
function transaction(n: number): object {
  const patient = `urn:uuid:${randomUUID()}`;
  const encounter = `urn:uuid:${randomUUID()}`;
  const observations = LOINC.map((code, i) => ({
    fullUrl: `urn:uuid:${randomUUID()}`, request: { method: 'POST', url: 'Observation' },
    resource: observation(n, i, code, { subject: { reference: patient }, encounter: { reference: encounter } }),
  }));
  return {
    resourceType: 'Bundle', type: 'transaction',
    entry: [
      { fullUrl: patient, request: { method: 'POST', url: 'Patient' }, resource: {
        resourceType: 'Patient',
        identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.7', value: `IPP${100000 + n}`, type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } }],
        name: [{ family: `NOM${n}`, given: ['Camille'] }], gender: n % 2 ? 'female' : 'male', birthDate: `19${50 + (n % 50)}-0${1 + (n % 9)}-1${n % 10}`,
      } },
      { fullUrl: encounter, request: { method: 'POST', url: 'Encounter' }, resource: {
        resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: patient },
      } },
      ...observations,
    ],
  };
}

interface Run { requests: number; resources: number; secs: number; p50: number; p99: number; failed: number }

async function post(url: string, token: string, bodies: readonly string[], concurrency: number, resourcesEach: number): Promise<Run> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const t0 = performance.now();
      const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, body });
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      if (res.status !== 200 && res.status !== 201) failed++;
    }
  }));
  const secs = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { requests: bodies.length, resources: bodies.length * resourcesEach, secs, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), failed };
}

function validationRate(bundles: readonly object[], validate: (b: object) => void): number {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 3000) validate(bundles[n++ % bundles.length]!);
  return (n * RESOURCES_PER_BUNDLE) / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const validator = R4Validator.load();
  const sample = Array.from({ length: 50 }, (_, i) => transaction(1_000_000 + i));
  const bare = validationRate(sample, (b) => {
    try {
      validateResource(b as Parameters<typeof validateResource>[0]);
    } catch {
      // Errors count as work done, as in the gateway.
    }
  });
  const ours = validationRate(sample, (b) => validator.validate(b));

  const config = await writeBenchConfig({ source: join(REPO, 'config'), feed: 'bench-mllp', connections: 1, normalize: true });
  const gateway = await GatewayProcess.start(REPO, config);
  try {
    const cpu0 = gateway.proc().cpuSeconds;
    const tx = await post(`${gateway.url}/fhir/r4`, config.labToken, Array.from({ length: BUNDLES }, (_, i) => JSON.stringify(transaction(i))), CONCURRENCY, RESOURCES_PER_BUNDLE);
    const cpu1 = gateway.proc().cpuSeconds;
    const singles = Array.from({ length: BUNDLES * 2 }, (_, i) => JSON.stringify(observation(2_000_000 + i, 0, LOINC[i % LOINC.length]!, {})));
    const creates = await post(`${gateway.url}/fhir/r4/Observation`, config.labToken, singles, CONCURRENCY, 1);
    const cpu2 = gateway.proc().cpuSeconds;
    const rows: Array<[string, string, string, string, string, string]> = [
      ['what', 'requests/s', 'resources/s', 'p50 ms', 'p99 ms', 'gateway CPU'],
      [`transaction of ${RESOURCES_PER_BUNDLE}, ${CONCURRENCY} clients`, (tx.requests / tx.secs).toFixed(0), (tx.resources / tx.secs).toFixed(0), tx.p50.toFixed(1), tx.p99.toFixed(1), `${(((cpu1 - cpu0) / tx.secs) * 100).toFixed(0)}%`],
      [`create (1 Observation), ${CONCURRENCY} clients`, (creates.requests / creates.secs).toFixed(0), (creates.resources / creates.secs).toFixed(0), creates.p50.toFixed(1), creates.p99.toFixed(1), `${(((cpu2 - cpu1) / creates.secs) * 100).toFixed(0)}%`],
      ['validation only, @medplum/core bare (this process)', '', bare.toFixed(0), '', '', ''],
      ['validation only, R4Validator (library + ElementChecks)', '', ours.toFixed(0), '', '', ''],
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
    if (tx.failed + creates.failed > 0) console.log(`FAILED requests: ${tx.failed} transactions, ${creates.failed} creates`);
    console.log(`${BUNDLES} transactions (${BUNDLES} patients), ${BUNDLES * 2} creates; answers wait for normalization (records written and read back).`);
  } finally {
    await gateway.stop();
    rmSync(config.dir, { recursive: true, force: true });
  }
}

await main();
