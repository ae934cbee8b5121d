import t from 'tap';
import { nextVersion, recordChanged } from '../../../../gateway/store/record-version.js';
import type { RecordInput } from '../../../../gateway/core/types.js';

const input = (resource: Record<string, unknown>): RecordInput => ({
  resourceType: 'Patient',
  resource: { resourceType: 'Patient', ...resource },
  provenance: { feed: 'f', participant: 'p', rawId: 'raw_1', location: 'PID[1]', mapping: 'm@1', receivedAt: '2026-11-23T00:00:00Z' },
  identifiers: [{ system: 's', value: 'v' }],
});

t.test('source meta is kept and versioned; our versionId/lastUpdated are not content', async (t) => {
  const v1 = nextVersion(input({ meta: { security: [{ code: 'R' }] }, gender: 'female' }), 'rec_1', 1);
  t.same(v1.resource.meta, { security: [{ code: 'R' }], versionId: '1', lastUpdated: v1.lastUpdated });
  t.equal(recordChanged(v1, input({ meta: { security: [{ code: 'R' }] }, gender: 'female' })), false, 'same content');
  t.equal(recordChanged(v1, input({ meta: { security: [{ code: 'V' }] }, gender: 'female' })), true, 'a security label change is a change');
  t.equal(recordChanged(v1, input({ meta: { security: [{ code: 'R' }] }, gender: 'male' })), true);
  const other = { ...input({ meta: { security: [{ code: 'R' }] }, gender: 'female' }), provenance: { ...v1.provenance, rawId: 'raw_2' } };
  t.equal(recordChanged(v1, other), false, 'provenance alone is not a change');
});
