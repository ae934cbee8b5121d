import t from 'tap';
import { createHash } from 'node:crypto';
import { startTestGateway, type RunningTestGateway } from '../helpers/gateway.js';
import { makeRecord } from '../contract/store.conformance.js';

const ADT = 'MSH|^~\\&|HIS|CHU|PASSERELLE|GW|20261123101500||ADT^A01|MSG0001|P|2.5\rPID|1||123456^^^CHU^MR||TESTPATIENT^ALICE||19800101|F\r';

let gw: RunningTestGateway;
t.before(async () => {
  gw = await startTestGateway({ store: 'lmdb' });
});
t.teardown(() => gw.cleanup());

t.test('/health and /ready answer without authentication', async (t) => {
  const health = await gw.as(undefined, '/health');
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok' });
  const ready = await gw.as(undefined, '/ready');
  t.equal(ready.status, 200);
  t.match(await ready.json(), { status: 'ready', store: 'up', listeners: 'up' });
});

t.test('every other route needs a valid bearer token', async (t) => {
  for (const path of ['/v1/raw/raw_x', '/fhir/r4/Patient/x', '/metrics']) {
    const none = await gw.as(undefined, path);
    t.equal(none.status, 401, `${path} without token`);
    t.equal(none.headers.get('www-authenticate'), 'Bearer');
    const wrong = await fetch(`${gw.gateway.url}${path}`, { headers: { authorization: `Bearer ${'x'.repeat(43)}` } });
    t.equal(wrong.status, 401, `${path} with an unknown token`);
    t.equal(wrong.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  }
  const fhir = await gw.as(undefined, '/fhir/r4/Patient/x');
  t.match(await fhir.json(), { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'security' }] });
  const raw = await gw.as(undefined, '/v1/raw/raw_x');
  t.match(await raw.json(), { error: { code: 'PSL_AUTH_REQUIRED' } });
  const malformed = await fetch(`${gw.gateway.url}/v1/raw/raw_x`, { headers: { authorization: 'Basic abc' } });
  t.match(await malformed.json(), { error: { code: 'PSL_AUTH_INVALID' } });
});

t.test('raw intake: 201 once durable, replay answers the original id, owner only', async (t) => {
  const post = (who: 'chu-lyon' | 'mutuelle-x', feed: string, body: string, ref?: string): Promise<Response> =>
    gw.as(who, `/v1/raw/${feed}`, { method: 'POST', body, headers: { 'content-type': 'x-application/hl7-v2+er7', ...(ref ? { 'x-source-ref': ref } : {}) } });
  const first = await post('chu-lyon', 'chu-adt', ADT, 'MSG0001');
  t.equal(first.status, 201);
  const stored = await first.json() as { rawId: string; status: string; sha256: string };
  t.equal(stored.status, 'stored');
  t.equal(stored.sha256, createHash('sha256').update(ADT).digest('hex'));

  const again = await post('chu-lyon', 'chu-adt', ADT);
  t.equal(again.status, 200, 'a replay of the same bytes is not a conflict');
  t.match(await again.json(), { rawId: stored.rawId, status: 'duplicate' });
  const sameRef = await post('chu-lyon', 'chu-adt', `${ADT}\r`, 'MSG0001');
  const reused = (await sameRef.json()) as { rawId: string; status: string };
  t.equal(sameRef.status, 201, 'same source reference, other bytes: a new message');
  t.not(reused.rawId, stored.rawId);

  t.equal((await post('mutuelle-x', 'chu-adt', ADT)).status, 403, 'not the feed owner');
  const unknown = await post('chu-lyon', 'no-such-feed', ADT);
  t.equal(unknown.status, 404);
  t.match(await unknown.json(), { error: { code: 'PSL_FEED_UNKNOWN' } });
  t.equal((await post('chu-lyon', 'chu-adt', '')).status, 400, 'empty body');
  t.equal((await post('chu-lyon', 'chu-adt', 'x', 'bad ref with spaces')).status, 400, 'bad source ref');

  const meta = await gw.as('chu-lyon', `/v1/raw/${stored.rawId}`);
  t.equal(meta.status, 200);
  const body = await meta.json() as Record<string, unknown>;
  t.match(body, { id: stored.rawId, feed: 'chu-adt', participant: 'chu-lyon', format: 'hl7v2', bytes: ADT.length, sha256: stored.sha256, sourceRef: 'MSG0001' });
  t.notOk('body' in body, 'metadata only');
  t.equal((await gw.as('mutuelle-x', `/v1/raw/${stored.rawId}`)).status, 404, 'another participant cannot see it');
  t.equal((await gw.as('ops', `/v1/raw/${stored.rawId}`)).status, 200, 'admin sees all');
});

t.test('payloads over the limit are refused with 413', async (t) => {
  const res = await gw.as('chu-lyon', '/v1/raw/chu-adt', { method: 'POST', body: Buffer.alloc(10 * 1024 * 1024 + 1, 65) });
  t.equal(res.status, 413);
  t.match(await res.json(), { error: { code: 'PSL_PAYLOAD_TOO_LARGE' } });
});

t.test('FHIR read and search see only what the caller may see', async (t) => {
  const { store } = gw.gateway;
  const system = 'urn:oid:1.2.250.1.71.4.2.7';
  const patient = await store.putRecord(makeRecord({
    resource: { resourceType: 'Patient', identifier: [{ system, value: 'P-77' }], gender: 'female' },
    identifiers: [{ system, value: 'P-77' }],
    provenance: { feed: 'chu-adt', participant: 'chu-lyon', rawId: 'raw_1', location: 'PID[1]', mapping: 'test@1', receivedAt: new Date().toISOString() },
    sharedWith: ['kine-martin'],
  }));
  const read = await gw.as('chu-lyon', `/fhir/r4/Patient/${patient.id}`);
  t.equal(read.status, 200);
  t.equal(read.headers.get('content-type')?.split(';')[0], 'application/fhir+json');
  t.match(await read.json(), { resourceType: 'Patient', id: patient.id, meta: { versionId: '1' }, gender: 'female' });
  t.equal((await gw.as('kine-martin', `/fhir/r4/Patient/${patient.id}`)).status, 200, 'routed to kine-martin');
  t.equal((await gw.as('mutuelle-x', `/fhir/r4/Patient/${patient.id}`)).status, 404, 'not shared with the insurer');
  t.equal((await gw.as('chu-lyon', `/fhir/r4/Observation/${patient.id}`)).status, 404, 'type must match');
  t.equal((await gw.as('chu-lyon', `/fhir/r4/Patient/${patient.id}/_history/1`)).status, 200);

  const search = await gw.as('chu-lyon', `/fhir/r4/Patient?identifier=${encodeURIComponent(`${system}|P-77`)}`);
  t.equal(search.status, 200);
  t.match(await search.json(), { resourceType: 'Bundle', type: 'searchset', total: 1, entry: [{ resource: { id: patient.id } }] });
  const hidden = await gw.as('mutuelle-x', `/fhir/r4/Patient?identifier=${encodeURIComponent(`${system}|P-77`)}`);
  t.match(await hidden.json(), { resourceType: 'Bundle', total: 0 });
  const bad = await gw.as('chu-lyon', '/fhir/r4/Patient?identifier=nobar');
  t.equal(bad.status, 400);
  t.match(await bad.json(), { resourceType: 'OperationOutcome', issue: [{ code: 'structure' }] });
  const unsupported = await gw.as('chu-lyon', '/fhir/r4/Patient?name=x');
  t.equal(unsupported.status, 400);
});

t.test('/metrics is Prometheus text for admins only', async (t) => {
  t.equal((await gw.as('chu-lyon', '/metrics')).status, 403);
  // The worker drains the queue on its own schedule (batches, linger): wait for it, then read.
  for (let i = 0; i < 200; i++) {
    const stats = await gw.gateway.store.queueStats('normalize');
    if (stats.depth === 0 && stats.inFlight === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const res = await gw.as('ops', '/metrics');
  t.equal(res.status, 200);
  const text = await res.text();
  t.match(text, /passerelle_raw_stored_total\{feed="chu-adt",format="hl7v2",outcome="stored"\} 2/);
  t.match(text, /passerelle_raw_stored_total\{feed="chu-adt",format="hl7v2",outcome="duplicate"\} 1/);
  t.match(text, /passerelle_control_id_reused_total\{feed="chu-adt"\} 1/);
  t.match(text, /passerelle_queue_depth\{queue="normalize"\} 0/);
  t.match(text, /passerelle_store_latency_seconds_bucket\{le="[0-9.]+",op="putRaw"\}/);
  t.match(text, /passerelle_http_requests_total\{method="post",route="\/v1\/raw\/\{feed\}",status="201"\}/);
});
