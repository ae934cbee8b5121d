import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';

// A known patient: none of these strings may reach a log line, whatever the outcome of the request.
const NAME = 'ZEBULONIA';
const GIVEN = 'PERPETUA';
const MRN = 'MRN-98765-ZQ';
const NIR = '2800175123456';
const ADT = [
  'MSH|^~\\&|HIS|CHU|PASSERELLE|GW|20261123101500||ADT^A01|CTRL-PHI-1|P|2.5',
  `PID|1||${MRN}^^^CHU^MR~${NIR}^^^INS-NIR^NH||${NAME}^${GIVEN}||19800101|F|||12 RUE DES LILAS^^LYON^^69001`,
].join('\r');

t.test('no patient data in any log line, at debug level, on success and failure paths', async (t) => {
  const gw = await startTestGateway({ store: 'lmdb', logLevel: 'trace', extraFeeds: '  - name: lab-fhir\n    owner: labo-bioplus\n    format: fhir-r4\n' });
  t.teardown(() => gw.cleanup());
  const post = (body: string, headers: Record<string, string> = {}): Promise<Response> =>
    gw.as('chu-lyon', '/v1/raw/chu-adt', { method: 'POST', body, headers: { 'content-type': 'x-application/hl7-v2+er7', ...headers } });

  t.equal((await post(ADT, { 'x-source-ref': 'CTRL-PHI-1' })).status, 201);
  t.equal((await post(ADT)).status, 200, 'duplicate');
  t.equal((await post(ADT, { 'x-source-ref': `${NAME} ${MRN}` })).status, 400, 'a bad header carrying PHI');
  t.equal((await gw.as('mutuelle-x', '/v1/raw/chu-adt', { method: 'POST', body: ADT })).status, 403);
  t.equal((await gw.as('chu-lyon', `/fhir/r4/Patient?identifier=${encodeURIComponent(`urn:x|${MRN}`)}`)).status, 200);
  t.equal((await gw.as('chu-lyon', `/fhir/r4/Patient?name=${NAME}`)).status, 400);
  // FHIR writes: a create, a conditional create naming the MRN, a refusal, a malformed body.
  const fhir = (path: string, body: string, headers: Record<string, string> = {}): Promise<Response> =>
    gw.as('labo-bioplus', path, { method: 'POST', body, headers: { 'content-type': 'application/fhir+json', ...headers } });
  const patient = JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: `${NIR}00` }, { system: 'urn:x', value: MRN }], name: [{ family: NAME, given: [GIVEN] }] });
  t.equal((await fhir('/fhir/r4/Patient', patient)).status, 201);
  t.equal((await fhir('/fhir/r4/Patient', patient, { 'if-none-exist': `identifier=urn:x|${MRN}` })).status, 200);
  t.equal((await fhir('/fhir/r4/Patient', JSON.stringify({ resourceType: 'Patient', gender: NAME, name: [{ family: NAME }] }))).status, 422);
  t.equal((await fhir('/fhir/r4/Patient', `{"resourceType":"Patient","name":[{"family":"${NAME}"}`)).status, 400);

  // The normalize worker runs in its own thread: its lines reach the same destination, redacted too.
  for (let i = 0; i < 100 && !gw.logs.lines.some((l) => l.includes('"raw normalized"')); i++) await new Promise((r) => setTimeout(r, 100));
  const lines = gw.logs.lines;
  t.ok(lines.some((l) => l.includes('"raw stored"')), 'per-message debug lines were written');
  t.ok(lines.some((l) => l.includes('"raw normalized"') && l.includes('"component":"normalize"')), "the normalize thread's lines were written");
  for (const secret of [NAME, GIVEN, MRN, NIR, 'RUE DES LILAS', gw.tokens['chu-lyon']]) {
    const hits = lines.filter((l) => l.includes(secret));
    t.same(hits, [], `no log line contains the ${secret === gw.tokens['chu-lyon'] ? 'bearer token' : 'patient marker'}`);
  }
});
