import t from 'tap';
import { parseFhirJson } from '../../../../adapters/fhir/json-text.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

t.test('a property twice in one object is refused at its path, at any depth and however escaped', async (t) => {
  const cases: Array<[string, string]> = [
    ['{"resourceType":"Patient","active":true,"active":false}', 'Patient.active'],
    ['{"resourceType":"Patient","name":[{"family":"A"},{"family":"B","family":"C"}]}', 'Patient.name[1].family'],
    ['{"resourceType":"Patient","active":true,"\\u0061ctive":false}', 'Patient.active'],
    ['[{"a":1,"a":2}]', '$[0].a'],
  ];
  for (const [text, where] of cases) {
    const r = parseFhirJson(enc(text));
    t.equal(r.ok, false, text);
    if (!r.ok) t.same(r.issues.map((i) => [i.code, i.where]), [['duplicate', where]]);
  }
  const same = parseFhirJson(enc('{"resourceType":"Patient","name":[{"family":"A"},{"family":"B"}],"contact":[{"name":{"family":"A"}}]}'));
  t.equal(same.ok, true, 'the same key in sibling objects is no duplicate');
  const tricky = parseFhirJson(enc('{"resourceType":"Basic","text":{"div":"a \\" , { [ \\\\"}, "code":{"text":"x"}}'));
  t.equal(tricky.ok, true, 'quotes, commas and brackets inside strings are not structure');
});

t.test('unreadable bodies: not UTF-8, not JSON; the error locates without quoting the text', async (t) => {
  const latin1 = Uint8Array.from([...enc('{"resourceType":"Patient","name":[{"family":"'), 0xe9, ...enc('"}]}')]);
  const bad = parseFhirJson(latin1);
  t.same(bad.ok ? [] : bad.issues.map((i) => [i.code, i.where]), [['structure', 'body']]);
  const syntax = parseFhirJson(enc('{\n  "resourceType": "Patient",\n  "name": SECRET\n}'));
  t.equal(syntax.ok, false);
  if (!syntax.ok) {
    t.notMatch(syntax.issues[0]?.message ?? '', /SECRET/, 'the text around the error is not repeated');
    t.match(syntax.issues[0]?.message ?? '', /syntax error/);
  }
  const bom = parseFhirJson(Uint8Array.from([0xef, 0xbb, 0xbf, ...enc('{"resourceType":"Patient"}')]));
  t.equal(bom.ok, true, 'a UTF-8 byte order mark is read past (RFC 8259 allows a reader to ignore it)');
});

t.test("a Bundle's entry resources are located in the text as sent", async (t) => {
  const text = '{\n  "resourceType": "Bundle", "type": "batch",\n  "entry": [\n    { "resource": { "resourceType": "Patient", "name": [ { "family": "A" } ] } },\n    { "request": { "method": "DELETE" } },\n    { "resource": {"resourceType":"Observation","note":[{"text":"} ] { \\""}]} }\n  ]\n}';
  const r = parseFhirJson(enc(text));
  if (!r.ok) return t.fail('parsed');
  t.same([...r.entrySpans.keys()], [0, 2], 'entries without a resource have no span');
  const slice = (i: number): string => text.slice(...(r.entrySpans.get(i) as [number, number]));
  t.equal(slice(0), '{ "resourceType": "Patient", "name": [ { "family": "A" } ] }', 'the bytes as sent, spacing kept');
  t.same(JSON.parse(slice(2)), { resourceType: 'Observation', note: [{ text: '} ] { "' }] }, 'brackets inside strings do not end the span');
  const notBundle = parseFhirJson(enc('{"resourceType":"Patient","entry":[{"resource":{}}]}'));
  t.equal(notBundle.ok && notBundle.entrySpans.size, 0, 'only a Bundle has entry spans');
});
