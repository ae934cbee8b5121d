/**
 * FHIR search pages over what the caller may read, on both stores: `total`, `_count` and the
 * `next` / `previous` links are computed after the visibility filter, so a participant learns
 * nothing about other participants' records and never gets a short page while readable ones remain.
 */
import t from 'tap';
import type { Test } from 'tap';
import type { Provenance } from '../../gateway/core/types.js';
import { makeRecord } from '../contract/store.conformance.js';
import { startTestGateway, type RunningTestGateway, type TestParticipant } from '../helpers/gateway.js';

type Link = { relation: string; url: string };
type Bundle = {
  resourceType: string; type: string; total: number; link?: Link[];
  entry?: Array<{ fullUrl: string; resource: { resourceType: string; id: string } }>;
};
type Outcome = { resourceType: string; issue: Array<{ severity: string; code: string; diagnostics?: string; details?: { text?: string } }> };

const SYSTEM = 'urn:oid:1.2.250.1.71.4.2.9';

const provenance = (participant: TestParticipant, n: number): Provenance => ({
  feed: 'chu-adt', participant, rawId: `raw_paging_${n}`, location: 'PID[1]', mapping: 'test@1', receivedAt: new Date().toISOString(),
});

/**
 * Twelve Patients written interleaved so that the first records of the type are not the hospital's:
 * chu-lyon owns 3, the lab shares 2 with chu-lyon, and 7 (the lab's and the insurer's) it may not read.
 */
async function seed(gw: RunningTestGateway): Promise<{ visible: Set<string>; hidden: Set<string> }> {
  const plan: Array<{ owner: TestParticipant; sharedWith?: TestParticipant[] }> = [
    { owner: 'mutuelle-x' }, { owner: 'labo-bioplus' }, { owner: 'mutuelle-x' }, { owner: 'chu-lyon' },
    { owner: 'labo-bioplus', sharedWith: ['chu-lyon'] }, { owner: 'mutuelle-x' }, { owner: 'labo-bioplus' }, { owner: 'chu-lyon' },
    { owner: 'mutuelle-x' }, { owner: 'labo-bioplus', sharedWith: ['chu-lyon'] }, { owner: 'labo-bioplus' }, { owner: 'chu-lyon' },
  ];
  const visible = new Set<string>();
  const hidden = new Set<string>();
  for (const [n, step] of plan.entries()) {
    const identifier = { system: SYSTEM, value: `PG-${n}` };
    const put = await gw.gateway.store.putRecord(makeRecord({
      resource: { resourceType: 'Patient', identifier: [identifier], active: true },
      identifiers: [identifier], provenance: provenance(step.owner, n), sharedWith: step.sharedWith ?? [],
    }));
    const readable = step.owner === 'chu-lyon' || (step.sharedWith ?? []).includes('chu-lyon');
    (readable ? visible : hidden).add(put.id);
  }
  return { visible, hidden };
}

async function getBundle(t: Test, gw: RunningTestGateway, who: TestParticipant, pathOrUrl: string): Promise<Bundle> {
  const res = pathOrUrl.startsWith('http')
    ? await fetch(pathOrUrl, { headers: { authorization: `Bearer ${gw.tokens[who]}` } })
    : await gw.as(who, pathOrUrl);
  t.equal(res.status, 200, `search answered 200 for ${who}`);
  return (await res.json()) as Bundle;
}

const linkOf = (bundle: Bundle, relation: string): string | undefined => (bundle.link ?? []).find((l) => l.relation === relation)?.url;
const idsOf = (bundle: Bundle): string[] => (bundle.entry ?? []).map((e) => e.resource.id);

async function expectBadRequest(t: Test, gw: RunningTestGateway, path: string, parameter: string): Promise<void> {
  const res = await gw.as('chu-lyon', path);
  t.equal(res.status, 400, `a bad ${parameter} is a bad request`);
  t.equal(res.headers.get('content-type')?.split(';')[0], 'application/fhir+json');
  const body = (await res.json()) as Outcome;
  t.equal(body.resourceType, 'OperationOutcome');
  t.match(JSON.stringify(body.issue), new RegExp(parameter), `the outcome names ${parameter}`);
}

for (const store of ['lmdb', 'redis'] as const) {
  t.test(`${store}: search total, pages and links cover readable records only`, async (t) => {
    const gw = await startTestGateway({ store });
    t.teardown(() => gw.cleanup());
    const { visible, hidden } = await seed(gw);
    t.equal(visible.size, 5);
    t.equal(hidden.size, 7);

    const whole = await getBundle(t, gw, 'chu-lyon', '/fhir/r4/Patient');
    t.equal(whole.total, 5, "total counts the hospital's readable Patients, not the 12 stored");
    t.same(new Set(idsOf(whole)), visible, 'one default page holds every readable Patient');
    t.equal(linkOf(whole, 'next'), undefined, 'no next page when everything fits');
    t.equal(linkOf(whole, 'self'), `${gw.gateway.url}/fhir/r4/Patient`, 'self is the absolute URL of the request');
    for (const e of whole.entry ?? []) t.equal(e.fullUrl, `${gw.gateway.url}/fhir/r4/Patient/${e.resource.id}`, 'fullUrl is absolute');

    const pages: Bundle[] = [];
    let url: string | undefined = '/fhir/r4/Patient?_count=2';
    while (url !== undefined && pages.length < 10) {
      const page: Bundle = await getBundle(t, gw, 'chu-lyon', url);
      pages.push(page);
      url = linkOf(page, 'next');
    }
    t.same(pages.map((p) => idsOf(p).length), [2, 2, 1], 'five readable Patients in pages of 2, 2 and 1');
    const seen = pages.flatMap(idsOf);
    t.equal(new Set(seen).size, seen.length, 'no Patient appears twice');
    t.same(new Set(seen), visible, 'every readable Patient appears');
    t.notOk(seen.some((id) => hidden.has(id)), 'no Patient of another participant appears');
    t.same(seen, idsOf(whole), 'pages follow the same stable order as one big page');
    for (const page of pages) {
      t.equal(page.total, 5, 'every page carries the readable total');
      t.match(linkOf(page, 'self'), new RegExp(`^${gw.gateway.url}/fhir/r4/Patient\\?_count=2`), 'self keeps the query');
    }
    const [first, second, third] = pages as [Bundle, Bundle, Bundle];
    t.match(linkOf(first, 'next'), new RegExp(`^${gw.gateway.url}/fhir/r4/Patient\\?_count=2&_cursor=[A-Za-z0-9_-]+$`));
    t.equal(linkOf(second, 'self'), linkOf(first, 'next'), 'the second page is where the first pointed');
    t.equal(linkOf(first, 'previous'), undefined, 'the first page has no previous');
    t.equal(linkOf(second, 'previous'), `${gw.gateway.url}/fhir/r4/Patient?_count=2`, 'previous of the second page is the first');
    t.same(idsOf(await getBundle(t, gw, 'chu-lyon', linkOf(third, 'previous')!)), idsOf(second), 'previous of the third page is the second');

    const filtered = await getBundle(t, gw, 'chu-lyon', '/fhir/r4/Patient?_lastUpdated=ge2000-01-01T00:00:00Z&_count=4');
    t.equal(filtered.total, 5);
    t.match(linkOf(filtered, 'next'), /[?&]_lastUpdated=ge2000-01-01T00%3A00%3A00Z&_count=4&_cursor=/, 'next repeats the search parameters');
    const rest = await getBundle(t, gw, 'chu-lyon', linkOf(filtered, 'next')!);
    t.same([...idsOf(filtered), ...idsOf(rest)], idsOf(whole));

    const insurer = await getBundle(t, gw, 'mutuelle-x', '/fhir/r4/Patient?_count=1');
    t.equal(insurer.total, 4, "the insurer's total is its own 4 Patients");
    t.equal(idsOf(insurer).length, 1);
    t.notOk(idsOf(insurer).some((id) => visible.has(id)), "the insurer sees none of the hospital's");
    t.equal((await getBundle(t, gw, 'kine-martin', '/fhir/r4/Patient')).total, 0, 'a participant with nothing sees a total of 0');
    t.equal((await getBundle(t, gw, 'ops', '/fhir/r4/Patient?_count=1000')).total, 12, 'the admin sees all');

    const byIdentifier = await getBundle(t, gw, 'chu-lyon', `/fhir/r4/Patient?identifier=${encodeURIComponent(`${SYSTEM}|PG-0`)}`);
    t.equal(byIdentifier.total, 0, "an identifier search does not count another participant's record");
    t.same(byIdentifier.entry, []);

    const counted = await getBundle(t, gw, 'chu-lyon', '/fhir/r4/Patient?_summary=count');
    t.equal(counted.total, 5, '_summary=count gives the readable total');
    t.equal(counted.entry, undefined, '_summary=count has no entries');
    t.equal(linkOf(counted, 'next'), undefined);
  });
}

t.test('a malformed paging cursor or _summary is a 400 OperationOutcome naming the parameter', async (t) => {
  const gw = await startTestGateway({ store: 'lmdb' });
  t.teardown(() => gw.cleanup());
  await seed(gw);
  const valid = linkOf(await getBundle(t, gw, 'chu-lyon', '/fhir/r4/Patient?_count=1'), 'next');
  const cursor = new URL(valid!).searchParams.get('_cursor')!;
  t.ok(cursor, 'the next link carries a cursor');
  const forged = Buffer.from('not a position').toString('base64url');
  for (const bad of ['!!!', 'x', forged, `${cursor}=`, `${cursor}A`, 'A'.repeat(600)]) {
    await expectBadRequest(t, gw, `/fhir/r4/Patient?_count=1&_cursor=${encodeURIComponent(bad)}`, '_cursor');
  }
  await expectBadRequest(t, gw, `/fhir/r4/Patient?_cursor=${cursor}&_cursor=${cursor}`, '_cursor');
  await expectBadRequest(t, gw, '/fhir/r4/Patient?_summary=true', '_summary');
  await expectBadRequest(t, gw, '/fhir/r4/Patient?_count=0', '_count');
  await expectBadRequest(t, gw, `/fhir/r4/Patient?identifier=${encodeURIComponent(`${SYSTEM}|PG-3`)}&_count=x`, '_count');
});

/** Follows `next` from `path` until it disappears, returning every page. */
async function allPages(t: Test, gw: RunningTestGateway, who: TestParticipant, path: string): Promise<Bundle[]> {
  const pages: Bundle[] = [];
  let url: string | undefined = path;
  while (url !== undefined && pages.length < 50) {
    const page: Bundle = await getBundle(t, gw, who, url);
    pages.push(page);
    url = linkOf(page, 'next');
  }
  return pages;
}

for (const store of ['lmdb', 'redis'] as const) {
  t.test(`${store}: paging stays exact over more records than one store read returns`, async (t) => {
    const gw = await startTestGateway({ store });
    t.teardown(() => gw.cleanup());
    const visible = new Set<string>();
    const owners: TestParticipant[] = ['chu-lyon', 'labo-bioplus', 'mutuelle-x'];
    // Written 20 at a time, so many records share a lastUpdated millisecond: ties are ordered by id.
    for (let start = 0; start < 1200; start += 20) {
      const puts = await Promise.all(Array.from({ length: 20 }, (_, i) => {
        const n = start + i;
        const identifier = { system: SYSTEM, value: `BULK-${n}` };
        return gw.gateway.store.putRecord(makeRecord({
          resource: { resourceType: 'Patient', identifier: [identifier] },
          identifiers: [identifier], provenance: provenance(owners[n % 3]!, n),
        })).then((put) => ({ n, id: put.id }));
      }));
      for (const { n, id } of puts) if (n % 3 === 0) visible.add(id);
    }
    const pages = await allPages(t, gw, 'chu-lyon', '/fhir/r4/Patient?_count=150');
    t.same(pages.map((p) => idsOf(p).length), [150, 150, 100]);
    t.same(pages.map((p) => p.total), [400, 400, 400]);
    const seen = pages.flatMap(idsOf);
    t.equal(new Set(seen).size, 400, 'each readable Patient once');
    t.same(new Set(seen), visible, 'only and all readable Patients');

    const admin = await allPages(t, gw, 'ops', '/fhir/r4/Patient?_count=1000');
    t.same(admin.map((p) => idsOf(p).length), [1000, 200]);
    t.equal(new Set(admin.flatMap(idsOf)).size, 1200, 'the admin pages over all 1200 without repeats');
  });
}
