/**
 * The FHIR R4 write side over real HTTP, on both stores: a lab's token creates resources and runs
 * transactions through its fhir-r4 feed; every refusal is an OperationOutcome that locates the
 * problem and stores nothing; a FHIR Patient and an HL7 v2 Patient of the same identity in the
 * same participant's domain are one record.
 */
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestGateway, type RunningTestGateway } from '../helpers/gateway.js';
import { corpus } from '../helpers/corpus.js';

const FHIR_FEED = '  - name: lab-fhir\n    owner: labo-bioplus\n    format: fhir-r4\n';
const FHIR = { 'content-type': 'application/fhir+json' };
const MRN = { system: 'urn:oid:1.2.250.1.71.1', value: 'MRN-42', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } };

type Json = Record<string, unknown>;
interface Outcome { resourceType: string; issue: Array<{ severity: string; code: string; diagnostics: string; expression?: string[] }> }

const post = (gw: RunningTestGateway, path: string, body: unknown, headers: Record<string, string> = FHIR): Promise<Response> =>
  gw.as('labo-bioplus', path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

async function count(gw: RunningTestGateway, type: string): Promise<number> {
  const res = await gw.as('labo-bioplus', `/fhir/r4/${type}?_summary=count`);
  return ((await res.json()) as { total: number }).total;
}

for (const store of ['lmdb', 'redis'] as const) {
  t.test(`${store}: create answers 201 with the stored record, readable at its Location`, async (t) => {
    const gw = await startTestGateway({ store, extraFeeds: FHIR_FEED });
    t.teardown(() => gw.cleanup());
    const sent = JSON.parse(readFileSync(corpus('fhir/hl7-spec-r4-examples/patient-example.json'), 'utf8')) as Json;
    const res = await post(gw, '/fhir/r4/Patient', sent);
    t.equal(res.status, 201);
    t.equal(res.headers.get('content-type')?.split(';')[0], 'application/fhir+json');
    t.equal(res.headers.get('etag'), 'W/"1"');
    const location = res.headers.get('location') ?? '';
    t.match(location, new RegExp(`^${gw.gateway.url}/fhir/r4/Patient/rec-[0-9A-Z]+/_history/1$`));
    const created = (await res.json()) as Json;
    t.not(created.id, sent.id, 'the gateway assigns the id');
    const read = (await (await gw.as('labo-bioplus', location.slice(gw.gateway.url.length))).json()) as Json;
    const { id: _a, meta: _m, ...readRest } = read;
    const { id: _b, ...sentRest } = sent;
    t.same(readRest, sentRest, 'every element sent is read back');

    const again = await post(gw, '/fhir/r4/Patient', sent);
    t.equal(again.status, 200, 'the same body again is the same record (a retry after a lost answer)');
    t.equal(again.headers.get('location'), location);
  });

  t.test(`${store}: refusals are OperationOutcomes with a location and store nothing`, async (t) => {
    const gw = await startTestGateway({ store, extraFeeds: FHIR_FEED });
    t.teardown(() => gw.cleanup());
    const cases: Array<[string, string, unknown, Record<string, string> | undefined, number, string, string]> = [
      ['wrong media type', '/fhir/r4/Patient', { resourceType: 'Patient' }, { 'content-type': 'application/json' }, 415, 'not-supported', ''],
      ['malformed JSON', '/fhir/r4/Patient', '{"resourceType": "Patient",', undefined, 400, 'structure', 'body'],
      ['a property twice', '/fhir/r4/Patient', '{"resourceType":"Patient","active":true,"active":false}', undefined, 400, 'duplicate', 'Patient.active'],
      ['no resourceType', '/fhir/r4/Patient', { active: true }, undefined, 400, 'required', 'resourceType'],
      ['type other than the URL', '/fhir/r4/Patient', { resourceType: 'Observation' }, undefined, 400, 'value', 'resourceType'],
      ['a code outside a required binding', '/fhir/r4/Patient', { resourceType: 'Patient', gender: 'maleish' }, undefined, 422, 'code-invalid', 'Patient.gender'],
      ['an unknown element', '/fhir/r4/Patient', { resourceType: 'Patient', nickname: 'Al' }, undefined, 422, 'structure', 'Patient.nickname'],
      ['a bad date', '/fhir/r4/Patient', { resourceType: 'Patient', birthDate: '1970-13-01' }, undefined, 422, 'structure', 'Patient.birthDate'],
      ['two types of one choice', '/fhir/r4/Patient', { resourceType: 'Patient', deceasedBoolean: true, deceasedDateTime: '2020-01-01' }, undefined, 422, 'structure', 'Patient.deceasedDateTime'],
      ['a reference to a type the element does not allow', '/fhir/r4/Patient', { resourceType: 'Patient', managingOrganization: { reference: 'Patient/x' } }, undefined, 422, 'structure', 'Patient.managingOrganization.reference'],
      ['an empty string', '/fhir/r4/Patient', { resourceType: 'Patient', name: [{ family: '' }] }, undefined, 422, 'value', 'Patient.name[0].family'],
      ['a urn: reference outside a bundle', '/fhir/r4/Observation', { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:3b9e2c7a-0d2e-4d5f-9b1a-7c3e2f1a0b9c' } }, undefined, 422, 'value', 'Observation.subject.reference'],
    ];
    for (const [name, path, body, headers, status, code, where] of cases) {
      const res = await post(gw, path, body, headers ?? FHIR);
      t.equal(res.status, status, `${name}: ${status}`);
      t.equal(res.headers.get('content-type')?.split(';')[0], 'application/fhir+json', `${name}: answered in FHIR JSON`);
      const outcome = (await res.json()) as Outcome;
      t.equal(outcome.resourceType, 'OperationOutcome', `${name}: an OperationOutcome`);
      const issue = outcome.issue.find((i) => i.severity === 'error' && (where === '' || i.expression?.[0] === where));
      t.ok(issue, `${name}: an error issue${where ? ` at ${where}` : ''}`);
      if (where !== '') t.equal(issue?.code, code, `${name}: issue code ${code}`);
      t.notMatch(JSON.stringify(outcome), /maleish|Al"|1970-13-01/, `${name}: no value is echoed`);
    }
    t.equal(await count(gw, 'Patient'), 0, 'nothing was stored');
    t.equal((await gw.as('chu-lyon', '/fhir/r4/Patient', { method: 'POST', headers: FHIR, body: '{"resourceType":"Patient"}' })).status, 403, 'a participant without a fhir-r4 feed cannot write');
    t.equal((await gw.as(undefined, '/fhir/r4/Patient', { method: 'POST', headers: FHIR, body: '{"resourceType":"Patient"}' })).status, 401, 'no token, no write');
  });

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
    t.equal((await put(v2, { 'if-match': 'version 3' })).status, 400, 'a malformed If-Match');
  });

  t.test(`${store}: a transaction stores its entries as records that refer to each other`, async (t) => {
    const gw = await startTestGateway({ store, extraFeeds: FHIR_FEED });
    t.teardown(() => gw.cleanup());
    const patientUrl = 'urn:uuid:0b0b2f44-1c1e-4a43-9d59-5d7c1b0b2f44';
    const bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        // The Observation comes first and refers forward: the gateway stores the Patient first.
        { fullUrl: 'urn:uuid:7f1d0c55-8d5e-4a5b-9e61-2c7b9b0f1d0c', request: { method: 'POST', url: 'Observation' },
          resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] }, subject: { reference: patientUrl }, valueQuantity: { value: 5.5, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' } } },
        { fullUrl: patientUrl, request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', identifier: [MRN], name: [{ family: 'MARTIN' }] } },
      ],
    };
    const res = await post(gw, '/fhir/r4', bundle);
    t.equal(res.status, 200);
    const answer = (await res.json()) as { type: string; entry: Array<{ response: { status: string; location: string } }> };
    t.equal(answer.type, 'transaction-response');
    t.same(answer.entry.map((e) => e.response.status), ['201 Created', '201 Created'], 'one response per entry, in request order');
    const [obsLocation, patientLocation] = answer.entry.map((e) => e.response.location);
    t.match(obsLocation, /^Observation\/rec-[0-9A-Z]+\/_history\/1$/);
    const patientId = /^Patient\/(rec-[0-9A-Z]+)\//.exec(patientLocation ?? '')?.[1];
    const obs = (await (await gw.as('labo-bioplus', `/fhir/r4/${obsLocation}`)).json()) as { subject: { reference: string } };
    t.equal(obs.subject.reference, `Patient/${patientId}`, 'the urn:uuid reference now names the stored Patient');
    const search = (await (await gw.as('labo-bioplus', `/fhir/r4/Observation?patient=${patientId}`)).json()) as { total: number };
    t.equal(search.total, 1, 'the Observation is found by its patient');

    const dangling = { ...bundle, entry: [bundle.entry[0]] };
    const refused = await post(gw, '/fhir/r4', dangling);
    t.equal(refused.status, 422, 'a reference that resolves nowhere in the transaction is refused');
    const outcome = (await refused.json()) as Outcome;
    t.equal(outcome.issue[0]?.expression?.[0], 'Bundle.entry[0].resource');
    t.equal(outcome.issue[0]?.code, 'not-found');
    const twice = { ...bundle, entry: [bundle.entry[1], bundle.entry[1]] };
    const dup = (await (await post(gw, '/fhir/r4', twice)).json()) as Outcome;
    t.same(dup.issue.map((i) => [i.code, i.expression?.[0]]), [['duplicate', 'Bundle.entry[1].fullUrl']], 'a duplicate fullUrl is its own issue');
    t.equal(await count(gw, 'Observation'), 1, 'refused transactions stored nothing');
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

  t.test(`${store}: a FHIR Patient lands on the HL7 v2 Patient of the same identity, in its owner's domain only`, async (t) => {
    const gw = await startTestGateway({ store, extraFeeds: FHIR_FEED });
    t.teardown(() => gw.cleanup());
    const adt = (ctrl: string): string => [
      `MSH|^~\\&|LAB|BIOPLUS|PASSERELLE|GW|20260101120000||ADT^A04^ADT_A01|${ctrl}|P|2.5.1`,
      'PID|1||MRN-42^^^LAB&1.2.250.1.71.1&ISO^MR||MARTIN^LEA||19800101|F',
    ].join('\r');
    const patientOf: Record<string, string> = {};
    for (const [who, feed] of [['labo-bioplus', 'lab-oru'], ['chu-lyon', 'chu-adt']] as const) {
      const sent = await gw.as(who, `/v1/raw/${feed}`, { method: 'POST', body: adt(`${who}-1`) });
      t.equal(sent.status, 201);
      const { rawId } = (await sent.json()) as { rawId: string };
      patientOf[who] = await new Promise<string>((resolve) => {
        const off = gw.gateway.normalized.subscribe((o) => {
          if (o.rawId !== rawId) return;
          off();
          resolve(o.recordIds[0] ?? '');
        });
      });
    }
    const res = await post(gw, '/fhir/r4/Patient', { resourceType: 'Patient', identifier: [MRN], name: [{ family: 'MARTIN', given: ['Léa'] }], gender: 'female' });
    t.equal(res.status, 200, 'an existing record took the new version');
    t.equal(res.headers.get('etag'), 'W/"2"');
    t.match(res.headers.get('location'), `/fhir/r4/Patient/${patientOf['labo-bioplus']}/_history/2`, "it is the lab's HL7 v2 Patient");
    const read = async (id: string | undefined): Promise<{ meta: { versionId: string }; name: Array<{ given: string[] }> }> =>
      (await (await gw.as('chu-lyon', `/fhir/r4/Patient/${id}`)).json()) as { meta: { versionId: string }; name: Array<{ given: string[] }> };
    t.equal((await read(patientOf['chu-lyon'])).meta.versionId, '1', "the hospital's own Patient of the same MRN is untouched");
    const routed = await read(patientOf['labo-bioplus']);
    t.same([routed.meta.versionId, routed.name[0]?.given], ['2', ['Léa']], "the hospital, which the lab's HL7 feed is routed to, still sees the lab's Patient, now from FHIR");
  });
}

t.test('lmdb: every R4 specification example is created and read back whole', async (t) => {
  const gw = await startTestGateway({ store: 'lmdb', extraFeeds: FHIR_FEED });
  t.teardown(() => gw.cleanup());
  const dir = corpus('fhir/hl7-spec-r4-examples');
  // Refused, as the unit test explains: they contradict R4's own definitions.
  const refused = new Set(['explanationofbenefit-example.json', 'medicationrequest0301.json']);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const sent = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Json & { resourceType: string };
    const res = await post(gw, `/fhir/r4/${sent.resourceType}`, sent);
    if (refused.has(file)) {
      t.equal(res.status, 422, `${file} is refused`);
      continue;
    }
    t.equal(res.status, 201, `${file} is created`);
    const location = res.headers.get('location') ?? '';
    const read = (await (await gw.as('labo-bioplus', location.slice(gw.gateway.url.length))).json()) as Json;
    const { id: _a, meta: readMeta, ...readRest } = read;
    const { id: _b, meta: sentMeta, ...sentRest } = sent;
    t.same(readRest, sentRest, `${file}: every element is read back`);
    const { versionId: _v, lastUpdated: _u, ...sourceMeta } = (sentMeta ?? {}) as Json;
    const { versionId: _w, lastUpdated: _x, ...keptMeta } = (readMeta ?? {}) as Json;
    t.same(keptMeta, sourceMeta, `${file}: meta other than versionId and lastUpdated is kept`);
  }
});

t.test('lmdb: the CapabilityStatement claims what the gateway does, with and without a FHIR feed', async (t) => {
  for (const extraFeeds of [FHIR_FEED, '']) {
    const gw = await startTestGateway({ store: 'lmdb', extraFeeds });
    try {
      const res = await gw.as('labo-bioplus', '/fhir/r4/metadata');
      t.equal(res.status, 200);
      t.equal(res.headers.get('content-type')?.split(';')[0], 'application/fhir+json');
      const cs = (await res.json()) as { resourceType: string; fhirVersion: string; rest: Array<{ interaction?: Array<{ code: string }>; resource: Array<{ type: string; interaction: Array<{ code: string }>; searchParam: Array<{ name: string }> }> }> };
      t.equal(cs.resourceType, 'CapabilityStatement');
      t.equal(cs.fhirVersion, '4.0.1');
      const patient = cs.rest[0]?.resource.find((r) => r.type === 'Patient');
      const writes = extraFeeds !== '';
      t.same(patient?.interaction.map((i) => i.code), ['read', 'vread', 'history-instance', 'search-type', ...(writes ? ['create', 'update'] : [])], writes ? 'create with a FHIR feed' : 'reads only');
      t.same(patient?.searchParam.map((p) => p.name), ['identifier', 'patient', 'subject', '_lastUpdated']);
      t.same(cs.rest[0]?.interaction?.map((i) => i.code) ?? [], writes ? ['transaction', 'batch'] : []);
      if (writes) t.ok((cs.rest[0]?.resource.length ?? 0) >= 140, 'every R4 resource type is accepted');
      t.equal((await gw.as(undefined, '/fhir/r4/metadata')).status, 401, 'authenticated like every route');
    } finally {
      await gw.cleanup();
    }
  }
});
