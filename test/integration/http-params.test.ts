import t from 'tap';
import { startTestGateway, type RunningTestGateway } from '../helpers/gateway.js';

let gw: RunningTestGateway;
t.before(async () => {
  gw = await startTestGateway({ store: 'lmdb' });
});
t.teardown(() => gw.cleanup());

const LONG = 'a'.repeat(2500);

t.test('over-long path ids and search values answer 400, never a store failure', async (t) => {
  for (const path of [`/v1/raw/${LONG}`]) {
    const res = await gw.as('chu-lyon', path);
    t.equal(res.status, 400, 'raw id');
    t.match(await res.json(), { error: { code: 'PSL_BAD_REQUEST', message: /path parameter id/ } });
  }
  const post = await gw.as('chu-lyon', `/v1/raw/${LONG}`, { method: 'POST', body: 'x' });
  t.equal(post.status, 400, 'feed name');
  t.match(await post.json(), { error: { code: 'PSL_BAD_REQUEST' } });
  for (const path of [`/fhir/r4/Patient/${LONG}`, `/fhir/r4/Patient/${LONG}/_history/1`, `/fhir/r4/Patient/x/_history/${'9'.repeat(2500)}`,
    `/fhir/r4/${'P'.repeat(2500)}/x`, `/fhir/r4/Patient?patient=${LONG}`, `/fhir/r4/Patient?identifier=s|${LONG}`]) {
    const res = await gw.as('chu-lyon', path);
    t.equal(res.status, 400, path.slice(0, 40));
    t.match(await res.json(), { resourceType: 'OperationOutcome', issue: [{ code: 'structure', diagnostics: /PSL_BAD_REQUEST/ }] });
  }
  t.notOk(gw.logs.lines.some((l) => l.includes('PSL_STORE_UNAVAILABLE')), 'the store was never asked');
});

t.test('POST /hl7/{feed} checks its feed name like the other routes: 400 before any lookup, unknown stays 404', async (t) => {
  const post = (feed: string) => gw.as('chu-lyon', `/hl7/${feed}`, {
    method: 'POST', body: 'MSH|^~\\&|A|B|C|D|20260101||ADT^A01|P-1|P|2.5.1\r', headers: { 'content-type': 'x-application/hl7-v2+er7' },
  });
  for (const feed of [LONG, 'Chu-Adt', '-chu', 'chu_adt', 'chu%20adt', `${'a'.repeat(64)}`]) {
    const res = await post(feed);
    t.equal(res.status, 400, `feed name ${feed.slice(0, 20)}`);
    t.match(await res.json(), { error: { code: 'PSL_BAD_REQUEST', message: /path parameter feed must be a feed name/ } });
  }
  const unknown = await post('no-such-feed');
  t.equal(unknown.status, 404, 'a well-formed unknown feed');
  t.match(await unknown.json(), { error: { code: 'PSL_FEED_UNKNOWN' } });
  const known = await post('chu-adt');
  t.equal(known.status, 200, 'the configured feed still answers its ACK');
  t.notOk(gw.logs.lines.some((l) => l.includes('PSL_STORE_UNAVAILABLE')), 'the store was never asked');
});
