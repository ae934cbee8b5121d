import t from 'tap';
import { LOCAL_REF_PREFIX } from '../../../../../gateway/core/ports.js';
import { at, first, normalizeMs, recordsOf } from './raw.js';

t.test('DFT^P03: ChargeItem per FT1 on the Account, Coverage, Conditions', async (t) => {
  const records = recordsOf(normalizeMs('DFT-P03-01'));
  const charges = records.filter((r) => r.resourceType === 'ChargeItem');
  t.equal(charges.length, 2);
  const c = charges[0]!.resource;
  t.equal(c['status'], 'billable');
  t.match(c['code'], { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '71045' }] });
  t.match(charges[0]!.identifiers, [{ value: '12345' }], 'FT1-2 transaction id');
  const account = first(records, 'Account');
  t.same(c['account'], [{ reference: LOCAL_REF_PREFIX + account.localRef }]);
  t.equal(at(account.resource, 'identifier.0.value'), '4000776', 'PID-18');
  t.ok(records.some((r) => r.resourceType === 'Coverage'));
  t.ok(records.filter((r) => r.resourceType === 'Condition').length >= 2);
  t.equal(charges[0]!.provenance.location, 'FT1[1]');
});

t.test('BAR: Account status and shared records', async (t) => {
  t.equal(first(recordsOf(normalizeMs('BAR-P01-01')), 'Account').resource['status'], 'active');
  const purge = recordsOf(normalizeMs('BAR-P02-01'));
  const account = purge.find((r) => r.resourceType === 'Account');
  if (account) t.equal(account.resource['status'], 'inactive', 'P02 purges the account');
  const p12 = recordsOf(normalizeMs('BAR-P12-02'));
  t.equal(first(p12, 'Patient').provenance.mapping, 'hl7v2-bar@1');
  t.ok(p12.some((r) => r.resourceType === 'Condition' || r.resourceType === 'Procedure'), 'P12 carries diagnoses/procedures');
});
