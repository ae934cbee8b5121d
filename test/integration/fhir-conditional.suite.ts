/**
 * FHIR writes that decide against what is already stored, over real HTTP on both stores:
 * conditional create (race-free), update with If-Match (race-free), and batch Bundles whose
 * entries are answered each on its own.
 */
import type { Test } from 'tap';
import { startTestGateway } from '../helpers/gateway.js';
import { FHIR, FHIR_FEED, MRN, count, post, type Outcome } from '../helpers/fhir.js';

/** The suite on one store (a file per store keeps each file well inside the runner's timeout). */
export function fhirConditionalSuite(t: Test, store: 'lmdb' | 'redis'): void {
  t.test(`${store}: conditional create is race-free: 8 parallel creates of one identifier make one resource`, async (t) => {
    const gw = await startTestGateway({ store, extraFeeds: FHIR_FEED });
    t.teardown(() => gw.cleanup());
    const cond = { ...FHIR, 'if-none-exist': `identifier=${encodeURIComponent('urn:oid:1.2.250.1.71.4.2.9|R-77')}` };
    const body = (n: number): object => ({ resourceType: 'Observation', identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.9', value: 'R-77' }], status: 'final', code: { text: 'glucose' }, valueQuantity: { value: n } });
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => post(gw, '/fhir/r4/Observation', body(i), cond)));
    t.same(answers.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 201], 'one created, seven answered with it');
    t.equal(new Set(answers.map((r) => r.headers.get('location'))).size, 1, 'every answer names the one resource');
    t.equal(await count(gw, 'Observation'), 1, 'one resource stored');
    const later = await post(gw, '/fhir/r4/Observation', body(99), cond);
    t.equal(later.status, 200, 'a later conditional create finds it');
    t.equal(((await later.json()) as { valueQuantity: { value: number } }).valueQuantity.value, ((await (await gw.as('labo-bioplus', new URL(answers[0]!.headers.get('location')!).pathname)).json()) as { valueQuantity: { value: number } }).valueQuantity.value, 'and answers it unchanged');
    await post(gw, '/fhir/r4/Observation', body(1));
    const several = await post(gw, '/fhir/r4/Observation', body(2), cond);
    t.equal(several.status, 412, 'several matches: 412, nothing created');
    t.equal(await count(gw, 'Observation'), 2);
    const unsupported = await post(gw, '/fhir/r4/Observation', body(3), { ...FHIR, 'if-none-exist': 'code=1234' });
    t.equal(unsupported.status, 400, 'a condition other than identifier is refused, not ignored');
    t.equal(((await unsupported.json()) as Outcome).issue[0]?.expression?.[0], 'If-None-Exist');
  });

  t.test(`${store}: update (PUT) writes a new version; If-Match holds against a stale or racing version`, async (t) => {
    const gw = await startTestGateway({ store, extraFeeds: `${FHIR_FEED}  - name: chu-fhir\n    owner: chu-lyon\n    format: fhir-r4\n` });
    t.teardown(() => gw.cleanup());
    const created = await post(gw, '/fhir/r4/Patient', { resourceType: 'Patient', identifier: [MRN], name: [{ family: 'MARTIN' }] });
    const id = ((await created.json()) as { id: string }).id;
    t.match(id, /^rec-[0-9A-Z]{26}$/, 'the id the gateway assigned is a valid FHIR id');
    const put = (body: object, headers: Record<string, string> = {}, who: 'labo-bioplus' | 'chu-lyon' = 'labo-bioplus', at = id): Promise<Response> =>
      gw.as(who, `/fhir/r4/Patient/${at}`, { method: 'PUT', headers: { ...FHIR, ...headers }, body: JSON.stringify(body) });
    const v2 = { resourceType: 'Patient', id, identifier: [MRN], name: [{ family: 'MARTIN', given: ['Léa'] }] };
    const updated = await put(v2, { 'if-match': 'W/"1"' });
    t.equal(updated.status, 200);
    t.equal(updated.headers.get('etag'), 'W/"2"');
    t.same(((await updated.json()) as { name: unknown }).name, v2.name, 'the answer is the new version');
    const stale = await put({ ...v2, gender: 'female' }, { 'if-match': 'W/"1"' });
    t.equal(stale.status, 412, 'If-Match on an old version');
    t.equal(((await stale.json()) as Outcome).issue[0]?.expression?.[0], 'If-Match');
    const racing = await Promise.all([0, 1, 2].map((n) => put({ ...v2, birthDate: `198${n}-01-01` }, { 'if-match': 'W/"2"' })));
    t.same(racing.map((r) => r.status).sort(), [200, 412, 412], 'three racing updates of version 2: one wins');
    const read = (await (await gw.as('labo-bioplus', `/fhir/r4/Patient/${id}`)).json()) as { meta: { versionId: string } };
    t.equal(read.meta.versionId, '3');
    const history = (await (await gw.as('labo-bioplus', `/fhir/r4/Patient/${id}/_history`)).json()) as { type: string; total: number; entry: Array<{ resource: { meta: { versionId: string } }; request: { method: string } }> };
    t.equal(history.type, 'history');
    t.same(history.entry.map((e) => [e.resource.meta.versionId, e.request.method]), [['3', 'PUT'], ['2', 'PUT'], ['1', 'POST']], 'instance history, newest first');
    t.equal((await gw.as('chu-lyon', `/fhir/r4/Patient/${id}/_history`)).status, 404, 'history is read like the record');
    t.equal((await put({ ...v2, id: 'other' })).status, 400, 'the body id is the URL id');
    t.equal((await put({ ...v2, id: 'rec-00000000000000000000000000' }, {}, 'labo-bioplus', 'rec-00000000000000000000000000')).status, 404, 'a PUT does not create');
    t.equal((await put(v2, {}, 'chu-lyon')).status, 404, "another participant cannot update (or see) the lab's record");
    t.equal((await put({ ...v2, gender: 'maleish' })).status, 422, 'the update is validated');

    // A record about a patient stays about it: an update without a subject keeps the link, one naming another patient is refused.
    const tx = (await (await post(gw, '/fhir/r4', { resourceType: 'Bundle', type: 'transaction', entry: [
      { fullUrl: 'urn:uuid:2c4e6a8b-1d3f-4a5b-8c7d-9e0f1a2b3c4d', request: { method: 'POST', url: 'Observation' }, resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:7e9a1c3b-5d7f-4b6a-9c8d-0e1f2a3b4c5d' } } },
      { fullUrl: 'urn:uuid:7e9a1c3b-5d7f-4b6a-9c8d-0e1f2a3b4c5d', request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient' } },
    ] })).json()) as { entry: Array<{ response: { location: string } }> };
    const [obsId, ownPatient] = tx.entry.map((e) => e.response.location.split('/')[1]!);
    const putObs = (body: object): Promise<Response> => gw.as('labo-bioplus', `/fhir/r4/Observation/${obsId}`, { method: 'PUT', headers: FHIR, body: JSON.stringify({ resourceType: 'Observation', id: obsId, ...body }) });
    t.equal((await putObs({ status: 'amended', code: { text: 'x' } })).status, 200);
    const found = (await (await gw.as('labo-bioplus', `/fhir/r4/Observation?patient=${ownPatient}`)).json()) as { total: number };
    t.equal(found.total, 1, 'an update without a subject leaves the Observation on its patient');
    const moved = await putObs({ status: 'amended', code: { text: 'x' }, subject: { reference: `Patient/${id}` } });
    t.equal(moved.status, 409, 'an update that names another patient is refused');
    t.equal(((await moved.json()) as Outcome).issue[0]?.expression?.[0], 'Observation.subject.reference');
    t.equal((await put(v2, { 'if-match': 'version 3' })).status, 400, 'a malformed If-Match');
  });

  t.test(`${store}: a batch answers each entry on its own; one failing changes nothing for the others`, async (t) => {
    const gw = await startTestGateway({ store, extraFeeds: FHIR_FEED });
    t.teardown(() => gw.cleanup());
    const first = (await (await post(gw, '/fhir/r4/Patient', { resourceType: 'Patient', identifier: [MRN], name: [{ family: 'MARTIN' }] })).json()) as { id: string };
    // Written as a client would, with spacing: each entry is stored as the bytes it was sent as.
    const batch = JSON.stringify({
      resourceType: 'Bundle', type: 'batch',
      entry: [
        { request: { method: 'POST', url: 'Observation' }, resource: { resourceType: 'Observation', status: 'final', code: { text: 'glucose' }, subject: { reference: `Patient/${first.id}` } } },
        { request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', gender: 'maleish' } },
        { request: { method: 'PUT', url: `Patient/${first.id}`, ifMatch: 'W/"1"' }, resource: { resourceType: 'Patient', id: first.id, identifier: [MRN], name: [{ family: 'MARTIN', given: ['Léa'] }] } },
        { request: { method: 'DELETE', url: `Patient/${first.id}` } },
        { request: { method: 'POST', url: 'Observation' }, resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:5b9e2c7a-0d2e-4d5f-9b1a-7c3e2f1a0b9c' } } },
      ],
    }, null, 2);
    const res = await post(gw, '/fhir/r4', batch);
    t.equal(res.status, 200);
    const answer = (await res.json()) as { type: string; entry: Array<{ resource?: { id: string }; response: { status: string; location?: string; outcome?: Outcome } }> };
    t.equal(answer.type, 'batch-response');
    t.same(answer.entry.map((e) => e.response.status), ['201 Created', '422 Unprocessable Entity', '200 OK', '400 Bad Request', '422 Unprocessable Entity'], 'each entry, in order');
    t.equal(answer.entry[1]?.response.outcome?.issue[0]?.expression?.[0], 'Patient.gender', 'a refused entry says why, where');
    t.match(answer.entry[2]?.response.location, new RegExp(`^Patient/${first.id}/_history/2$`));
    const obs = answer.entry[0]?.resource?.id;
    const raw = (await (await gw.as('labo-bioplus', `/fhir/r4/Observation/${obs}`)).json()) as { meta: unknown };
    t.ok(raw.meta, 'the created entry is readable');
    t.equal(await count(gw, 'Observation'), 1, 'the refused entries stored nothing');
  });
}
