import t from 'tap';
import { Router } from '../../../../gateway/router/router.js';

const router = new Router([
  { name: 'lab-to-chu', when: { feed: ['lab-oru'], resourceType: ['Observation', 'DiagnosticReport'] }, to: ['chu-lyon'] },
  { name: 'claims', when: { resourceType: ['Claim'], fromParticipant: ['chu-lyon'] }, to: ['mutuelle-x', 'chu-lyon'] },
  { name: 'everything-to-archive', when: {}, to: ['archive'] },
]);
const header = (h: Partial<Parameters<Router['route']>[0]>): Parameters<Router['route']>[0] =>
  ({ resourceType: 'Observation', feed: 'lab-oru', participant: 'labo-bioplus', labels: [], ...h });

t.test('every stated condition must match; destinations are merged, sorted, never the sender', async (t) => {
  t.same(router.route(header({})), ['archive', 'chu-lyon']);
  t.same(router.route(header({ resourceType: 'Patient' })), ['archive'], 'type not listed');
  t.same(router.route(header({ feed: 'other' })), ['archive'], 'feed not listed');
  t.same(router.route(header({ resourceType: 'Claim', participant: 'chu-lyon', feed: 'x' })), ['archive', 'mutuelle-x'], 'sender removed');
  t.same(router.route(header({ resourceType: 'Claim', participant: 'labo-bioplus' })), ['archive'], 'fromParticipant not matching');
});

t.test('normalization outcomes stay with their source', async (t) => {
  t.same(router.route(header({ labels: ['normalization-outcome'] })), []);
});
