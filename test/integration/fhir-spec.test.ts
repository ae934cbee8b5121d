/**
 * The FHIR API against the specification: every R4 example created and read back whole, and a
 * CapabilityStatement that claims only what the gateway does.
 */
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestGateway } from '../helpers/gateway.js';
import { corpus } from '../helpers/corpus.js';
import { FHIR_FEED, post, type Json } from '../helpers/fhir.js';

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
      t.same(patient?.searchParam.map((p) => p.name), ['identifier', 'patient', 'subject', 'code', 'status', 'date', '_lastUpdated']);
      t.same(cs.rest[0]?.interaction?.map((i) => i.code) ?? [], writes ? ['transaction', 'batch'] : []);
      if (writes) t.ok((cs.rest[0]?.resource.length ?? 0) >= 140, 'every R4 resource type is accepted');
      t.equal((await gw.as(undefined, '/fhir/r4/metadata')).status, 401, 'authenticated like every route');
    } finally {
      await gw.cleanup();
    }
  }
});
