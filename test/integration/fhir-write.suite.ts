/**
 * The FHIR R4 write side over real HTTP, on both stores: a lab's token creates resources and runs
 * transactions through its fhir-r4 feed; every refusal is an OperationOutcome that locates the
 * problem and stores nothing; a FHIR Patient and an HL7 v2 Patient of the same identity in the
 * same participant's domain are one record.
 */
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { startTestGateway } from '../helpers/gateway.js';
import { corpus } from '../helpers/corpus.js';
import { FHIR, FHIR_FEED, MRN, count, post, type Json, type Outcome } from '../helpers/fhir.js';

/** The suite on one store (a file per store keeps each file well inside the runner's timeout). */
export function fhirWriteSuite(t: Test, store: 'lmdb' | 'redis'): void {
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
