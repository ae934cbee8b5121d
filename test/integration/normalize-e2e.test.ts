/**
 * Intake → normalize worker → FHIR read, through a real gateway over real sockets, on both stores:
 * a corpus ADT^A01 then an ORU^R01 for the same patient (PID-3 10006579) posted by the feed owner,
 * read back through /fhir/r4 with the owner's token.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import type { NormalizationOutcome } from '../../gateway/core/ports.js';
import type { FhirResource } from '../../gateway/core/types.js';
import { OUTCOME_SYSTEM } from '../../gateway/pipeline/normalization-outcome.js';
import { corpus } from '../helpers/corpus.js';
import { startTestGateway, type RunningTestGateway } from '../helpers/gateway.js';

const ADT = readFileSync(corpus('hl7v2-to-fhir/microsoft-fhir-converter/ADT01-23.hl7'));
const ORU = readFileSync(corpus('hl7v2-to-fhir/microsoft-fhir-converter/LAB-ORU-1.hl7'));

type Bundle = { total: number; entry?: Array<{ resource: FhirResource }> };

/** Collects outcomes from the moment the gateway starts, so none is missed. */
function outcomes(gw: RunningTestGateway): (rawId: string) => Promise<NormalizationOutcome> {
  const seen = new Map<string, NormalizationOutcome>();
  const waiting = new Map<string, (o: NormalizationOutcome) => void>();
  gw.gateway.normalized.subscribe((o) => {
    if (!seen.has(o.rawId)) seen.set(o.rawId, o);
    waiting.get(o.rawId)?.(o);
  });
  return (rawId) => new Promise((resolve) => {
    const done = seen.get(rawId);
    if (done) resolve(done);
    else waiting.set(rawId, resolve);
  });
}

async function post(t: Test, gw: RunningTestGateway, feed: string, body: Uint8Array): Promise<string> {
  const res = await gw.as('chu-lyon', `/v1/raw/${feed}`, { method: 'POST', body, headers: { 'content-type': 'application/hl7-v2' } });
  t.equal(res.status, 201, 'raw accepted');
  const { rawId } = (await res.json()) as { rawId: string };
  // The intake queued it for normalization before answering 201: nothing to do here.
  return rawId;
}

async function fhir<T>(t: Test, gw: RunningTestGateway, path: string): Promise<T> {
  const res = await gw.as('chu-lyon', `/fhir/r4/${path}`);
  t.equal(res.status, 200, `GET /fhir/r4/${path.replace(/[?|].*/, '…')}`);
  return (await res.json()) as T;
}

for (const store of ['lmdb', 'redis'] as const) {
  t.test(`ADT^A01 then ORU^R01 for one patient, read back through FHIR (${store})`, async (t) => {
    const gw = await startTestGateway({ store, logLevel: 'debug' });
    t.teardown(() => gw.cleanup());
    const outcome = outcomes(gw);

    const adtId = await post(t, gw, 'chu-adt', ADT);
    const adt = await outcome(adtId);
    t.equal(adt.ok, true, 'ADT normalized');
    const afterAdt = await fhir<Bundle>(t, gw, 'Patient');
    t.equal(afterAdt.total, 1, 'one Patient');
    const patient = afterAdt.entry![0]!.resource;
    t.ok(adt.recordIds.includes(patient.id!), 'the Patient came from the ADT');

    const oruId = await post(t, gw, 'chu-adt', ORU);
    const oru = await outcome(oruId);
    t.equal(oru.ok, true, 'ORU normalized');
    const afterOru = await fhir<Bundle>(t, gw, 'Patient');
    t.equal(afterOru.total, 1, 'still one Patient: the ORU did not create a duplicate');
    const same = afterOru.entry![0]!.resource;
    t.equal(same.id, patient.id, 'same Patient id');
    t.ok(oru.recordIds.includes(patient.id!), 'the ORU resolved its patient to that record');
    t.ok(['1', '2'].includes((same.meta as { versionId: string }).versionId), 'version 1 (unchanged) or 2 (updated)');
    const read = await fhir<FhirResource>(t, gw, `Patient/${patient.id}`);
    t.equal(read.id, patient.id, 'read by id');

    const obs = await fhir<Bundle>(t, gw, `Observation?patient=${patient.id}`);
    t.ok(obs.total >= 5, `${obs.total} Observations found by patient`);
    t.same(new Set(obs.entry!.map((e) => (e.resource.subject as { reference?: string }).reference)), new Set([`Patient/${patient.id}`]),
      'every Observation.subject points to that Patient');
    const allObs = await fhir<Bundle>(t, gw, 'Observation');
    t.equal(allObs.total, obs.total, 'no Observation lost its subject');

    const metrics = await (await gw.as('ops', '/metrics')).text();
    t.match(metrics, /passerelle_normalize_total\{format="hl7v2",outcome="ok"\} 2/, 'two raws normalized ok in /metrics');
    t.match(metrics, /passerelle_normalize_records_total\{type="Observation",status="created"\} \d+/, 'records by type and status');

    const lines = gw.logs.lines.filter((l) => l.includes('"component":"normalize"'));
    t.ok(lines.some((l) => l.includes('"raw normalized"')), 'the worker logged per message at debug');
    t.same(gw.logs.lines.filter((l) => /DUCK|DONALD|10006579|123121234/.test(l)), [], 'no name or identifier of the patient in any log line');
  });

  t.test(`a message that cannot be normalized keeps its raw and a readable outcome (${store})`, async (t) => {
    const gw = await startTestGateway({ store });
    t.teardown(() => gw.cleanup());
    const outcome = outcomes(gw);
    const rawId = await post(t, gw, 'chu-adt', new TextEncoder().encode('this is not HL7'));
    const o = await outcome(rawId);
    t.equal(o.ok, false);
    t.match(o.issues, [{ severity: 'fatal' }], 'a fatal issue');
    const raw = await gw.as('chu-lyon', `/v1/raw/${rawId}`);
    t.equal(raw.status, 200, 'raw still there');
    const found = await fhir<Bundle>(t, gw, `OperationOutcome?identifier=${encodeURIComponent(`${OUTCOME_SYSTEM}|${rawId}`)}`);
    t.equal(found.total, 1, 'outcome found by raw id');
    t.match(found.entry![0]!.resource, { resourceType: 'OperationOutcome', issue: [{ severity: 'fatal' }] });
    const other = await gw.as('labo-bioplus', `/fhir/r4/OperationOutcome?identifier=${encodeURIComponent(`${OUTCOME_SYSTEM}|${rawId}`)}`);
    t.equal(((await other.json()) as Bundle).total, 0, 'another participant does not see it');
  });
}
