import t from 'tap';
import { LOCAL_REF_PREFIX } from '../../../../gateway/core/ports.js';
import { localRefOf, localReferencesIn, rewriteLocalReferences } from '../../../../gateway/pipeline/reference-rewrite.js';

const L = (ref: string): string => `${LOCAL_REF_PREFIX}${ref}`;
const targets = new Map([['patient', 'Patient/rec_1'], ['enc', 'Encounter/rec_2']]);

t.test('rewrites at any depth, in arrays and objects, and leaves other references alone', async (t) => {
  const input = {
    resourceType: 'Observation',
    subject: { reference: L('patient') },
    performer: [{ reference: 'Practitioner/abc' }, { reference: L('enc'), display: 'd' }],
    component: [{ extension: [{ url: 'x', valueReference: { reference: L('patient') } }] }],
    note: [{ text: L('patient') }],
    contained: [{ resourceType: 'Basic', id: 'c1' }],
  };
  const frozen = JSON.stringify(input);
  const { resource, unresolved } = rewriteLocalReferences(input, (r) => targets.get(r));
  t.same(unresolved, []);
  t.same(resource, {
    ...input,
    subject: { reference: 'Patient/rec_1' },
    performer: [{ reference: 'Practitioner/abc' }, { reference: 'Encounter/rec_2', display: 'd' }],
    component: [{ extension: [{ url: 'x', valueReference: { reference: 'Patient/rec_1' } }] }],
  }, 'only `reference` keys holding a local URN change (a text that looks like one is content)');
  t.equal(JSON.stringify(input), frozen, 'input not mutated');
  t.equal(resource.contained, input.contained, 'untouched branches are shared, not copied');
});

t.test('unresolved references are removed and listed once each', async (t) => {
  const { resource, unresolved } = rewriteLocalReferences({
    resourceType: 'Encounter', subject: { reference: L('nobody'), display: 'x' }, basedOn: [{ reference: L('nobody') }, { reference: L('other') }],
  }, (r) => targets.get(r));
  t.same(unresolved, ['nobody', 'other']);
  t.same(resource, { resourceType: 'Encounter', subject: { display: 'x' }, basedOn: [{}, {}] });
});

t.test('localRefOf / localReferencesIn', async (t) => {
  t.equal(localRefOf(L('obs-3')), 'obs-3');
  t.equal(localRefOf(LOCAL_REF_PREFIX), undefined, 'empty localRef is not one');
  t.equal(localRefOf('Patient/1'), undefined);
  t.equal(localRefOf(42), undefined);
  t.same(localReferencesIn({ resourceType: 'X', a: { reference: L('b') }, c: [{ reference: L('a') }, { reference: L('b') }] }), ['b', 'a']);
});
