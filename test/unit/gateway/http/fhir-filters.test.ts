import t from 'tap';
import { parseFilters, rangeOf } from '../../../../gateway/http/fhir-filters.js';
import type { FhirResource } from '../../../../gateway/core/types.js';

const obs = (code: string, status: string, effectiveDateTime: string, system = 'http://loinc.org'): FhirResource => ({
  resourceType: 'Observation', status, effectiveDateTime, code: { coding: [{ system, code }] },
});
const matches = (q: Record<string, string>, r: FhirResource): boolean => parseFilters(new Map(Object.entries(q)))!(r);

t.test('code: system|code, code alone, any of several', async (t) => {
  const r = obs('2345-7', 'final', '2026-11-30T08:15:00+01:00');
  t.ok(matches({ code: 'http://loinc.org|2345-7' }, r));
  t.ok(matches({ code: '2345-7' }, r), 'any system');
  t.notOk(matches({ code: 'http://snomed.info/sct|2345-7' }, r), 'another system');
  t.notOk(matches({ code: '|2345-7' }, r), '|code means no system');
  t.ok(matches({ code: '718-7,2345-7' }, r), 'a comma is OR');
  t.throws(() => parseFilters(new Map([['code', 'http://loinc.org|']])), /code must be/);
});

t.test('status, and every filter together', async (t) => {
  const r = obs('2345-7', 'final', '2026-11-30');
  t.ok(matches({ status: 'final,amended' }, r));
  t.notOk(matches({ status: 'preliminary' }, r));
  t.notOk(matches({ status: 'final', code: '718-7' }, r), 'all filters must hold');
  t.equal(parseFilters(new Map()), undefined);
});

t.test('date: ranges at each precision, with the prefixes', async (t) => {
  t.same(rangeOf('2026'), [Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1)]);
  t.same(rangeOf('2026-11-30'), [Date.UTC(2026, 10, 30), Date.UTC(2026, 11, 1)]);
  t.equal(rangeOf('2026-11-30T08:15'), undefined, 'a dateTime with a time has an offset');
  const r = obs('2345-7', 'final', '2026-11-30T08:15:00+01:00');
  t.ok(matches({ date: '2026-11-30' }, r), 'eq: within the day');
  t.ok(matches({ date: 'eq2026-11' }, r), 'within the month');
  t.notOk(matches({ date: '2026-12-01' }, r));
  t.ok(matches({ date: 'ge2026-11-30' }, r));
  t.notOk(matches({ date: 'gt2026-11-30' }, r), 'gt: after the whole day');
  t.ok(matches({ date: 'lt2026-12-01' }, r));
  t.notOk(matches({ date: 'lt2026-11-30' }, r));
  t.ok(matches({ date: 'le2026-11-30' }, r));
  t.ok(matches({ date: 'ne2026-12-01' }, r));
  t.notOk(matches({ date: '2026' }, { resourceType: 'Observation' }), 'a resource without a date never matches');
  t.throws(() => parseFilters(new Map([['date', 'yesterday']])), /date must be/);
});
