/**
 * FHIR search narrowed by code, status and date, with the patients included, over real HTTP on
 * records the lab wrote through its FHIR feed; counts and includes cover only what the caller
 * may read.
 */
import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';
import { FHIR_FEED, MRN, post } from '../helpers/fhir.js';

t.test('lmdb: code, status, date and _include narrow and extend a search', async (t) => {
  const gw = await startTestGateway({ store: 'lmdb', extraFeeds: FHIR_FEED });
  t.teardown(() => gw.cleanup());
  const patient = 'urn:uuid:1d5b7c3e-9a1f-4c2e-8b6d-3f0a9e7c5b1d';
  const o = (code: string, status: string, date: string): object => ({
    request: { method: 'POST', url: 'Observation' },
    resource: { resourceType: 'Observation', status, effectiveDateTime: date, code: { coding: [{ system: 'http://loinc.org', code }] }, subject: { reference: patient } },
  });
  const res = await post(gw, '/fhir/r4', { resourceType: 'Bundle', type: 'transaction', entry: [
    { fullUrl: patient, request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', identifier: [MRN] } },
    o('2345-7', 'final', '2026-11-30T08:15:00+01:00'), o('2345-7', 'preliminary', '2026-12-02T09:00:00+01:00'), o('718-7', 'final', '2026-11-30T08:15:00+01:00'),
  ] });
  t.equal(res.status, 200);
  type Bundle = { total: number; entry?: Array<{ resource: { resourceType: string }; search: { mode: string } }> };
  const search = async (q: string, who: 'labo-bioplus' | 'chu-lyon' = 'labo-bioplus'): Promise<Bundle> => (await (await gw.as(who, `/fhir/r4/Observation?${q}`)).json()) as Bundle;
  t.equal((await search('code=http://loinc.org|2345-7')).total, 2);
  t.equal((await search('code=2345-7&status=final')).total, 1);
  t.equal((await search('date=2026-11-30')).total, 2);
  t.equal((await search('date=ge2026-12-01&code=2345-7')).total, 1);
  const withPatient = await search('code=718-7&_include=Observation:patient');
  t.same(withPatient.entry?.map((e) => [e.resource.resourceType, e.search.mode]), [['Observation', 'match'], ['Patient', 'include']]);
  t.equal(withPatient.total, 1, 'included resources are not counted');
  t.equal((await search('code=718-7', 'chu-lyon')).total, 0, 'another participant finds nothing of the lab\'s');
  t.equal((await gw.as('labo-bioplus', '/fhir/r4/Observation?_include=Encounter:patient')).status, 400, '_include names the searched type');
  t.equal((await gw.as('labo-bioplus', '/fhir/r4/Observation?date=soon')).status, 400);
});
