import t from 'tap';
import { bundleGraph } from '../../../../adapters/fhir/bundle-graph.js';

const entry = (fullUrl: string | undefined, refs: string[]): object => ({
  ...(fullUrl ? { fullUrl } : {}), resource: { resourceType: 'Basic', extension: refs.map((r) => ({ url: 'urn:x', valueReference: { reference: r } })) },
});

t.test('order: every entry after the entries it refers to, otherwise in bundle order', async (t) => {
  const g = bundleGraph([entry('urn:uuid:a', ['urn:uuid:c']), entry('urn:uuid:b', []), entry('urn:uuid:c', ['urn:uuid:b']), entry('urn:uuid:d', [])]);
  t.same(g.order, [1, 2, 0, 3]);
  t.same(g.links.map((l) => l.targets), [[2], [], [1], []]);
});

t.test('relative references resolve to RESTful fullUrls; unknown urn: references dangle; others are external', async (t) => {
  const g = bundleGraph([entry('http://example.org/fhir/Patient/123', []), entry('urn:uuid:x', ['Patient/123', 'urn:uuid:missing', 'Organization/9', 'http://elsewhere/fhir/Patient/1'])]);
  t.same(g.links[1]?.targets, [0]);
  t.same(g.links[1]?.dangling, ['urn:uuid:missing']);
});

t.test('cycles and duplicate fullUrls are reported with their entries', async (t) => {
  const g = bundleGraph([entry('urn:uuid:a', ['urn:uuid:b']), entry('urn:uuid:b', ['urn:uuid:a']), entry('urn:uuid:c', []), entry('urn:uuid:c', [])]);
  t.equal(g.order, undefined);
  t.same(g.cycle, [0, 1]);
  t.same(g.duplicateFullUrls, [3]);
  t.same(bundleGraph([entry('urn:uuid:s', ['urn:uuid:s'])]).order, [0], 'an entry that refers to itself is no cycle');
});

t.test('a long chain is ordered without recursion limits or quadratic work', async (t) => {
  const n = 5000;
  const entries = Array.from({ length: n }, (_, i) => entry(`urn:uuid:${i}`, i + 1 < n ? [`urn:uuid:${i + 1}`] : []));
  const g = bundleGraph(entries);
  t.equal(g.order?.length, n);
  t.equal(g.order?.[0], n - 1, 'the last entry, which the others depend on, goes first');
});
