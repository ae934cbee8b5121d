/**
 * R4 validation against real material: the specification's examples are accepted (two that
 * contradict R4's own definitions excepted, each for its reason), the FHIR validator's and FHIR
 * servers' negative cases are refused with the expected kind of issue at the expected place.
 */
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { R4Validator } from '../../../../adapters/fhir/validate.js';
import { parseFhirJson } from '../../../../adapters/fhir/json-text.js';
import { RequiredValueSets } from '../../../../adapters/fhir/required-bindings.js';
import { definitionResources } from '../../../../adapters/fhir/definitions.js';
import type { Issue } from '../../../../gateway/core/issues.js';
import { corpus } from '../../../helpers/corpus.js';

const validator = R4Validator.load();
const errors = (issues: Issue[]): Issue[] => issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');

function check(file: string): Issue[] {
  const parsed = parseFhirJson(readFileSync(file));
  return parsed.ok ? validator.validate(parsed.value) : parsed.issues;
}

t.test('the R4 specification examples are accepted', async (t) => {
  const dir = corpus('fhir/hl7-spec-r4-examples');
  // Both contradict R4's definitions, and the HL7 Java validator refuses them for the same reasons.
  const refused: Record<string, Array<[string, string]>> = {
    // This copy lacks eight elements R4 requires (status, type, use, patient, created, insurer, provider, outcome, insurance).
    'explanationofbenefit-example.json': [['required', 'ExplanationOfBenefit.status']],
    // dispenseRequest.performer is Reference(Organization) in R4; the example names a Practitioner.
    'medicationrequest0301.json': [['structure', 'MedicationRequest.dispenseRequest.performer.reference']],
  };
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  t.ok(files.length >= 30, `${files.length} examples`);
  for (const f of files) {
    const found = errors(check(join(dir, f)));
    const expected = refused[f];
    if (!expected) {
      t.same(found.map((i) => `${i.where}: ${i.message}`), [], `${f} is accepted`);
      continue;
    }
    for (const [code, where] of expected) t.ok(found.some((i) => i.where === where && (code === 'required' || i.code === code)), `${f} is refused at ${where}`);
  }
});

t.test('the FHIR validator test cases (R4) are decided as the HL7 validator decides them', async (t) => {
  const dir = corpus('fhir/fhir-test-cases-validator');
  const accepted = ['bundle-good', 'bundle-id-collection', 'bundle-id-search-1', 'bundle-id-search-2', 'bundle-id-search-3', 'bundle-id-search-4',
    'contained', 'json-good', 'list-wrong-order', 'obs-decimal', 'patient-good', 'primitive-good-ws', 'resource-invalid-eid-0', 'resource-invalid-id-0'];
  // The issues the HL7 validator reports for these that are about terminology displays, search
  // result semantics or R5's decimal regex are not structural R4 rules: those files pass here.
  for (const name of accepted) t.same(errors(check(join(dir, `${name}.json`))).map((i) => `${i.where}: ${i.message}`), [], `${name} is accepted`);
  const refused: Array<[string, string, string]> = [
    ['bad-json-close-1', 'structure', 'body'],
    ['patient-duplicate', 'duplicate', 'Patient.active'],
    ['bundle-bad-empty', 'value', 'Bundle.entry[0].fullUrl'],
    ['bundle-duplicate-id', 'value', 'Bundle.entry[0].fullUrl'],
    ['empty-array', 'structure', 'DocumentReference.category[0].coding'],
    ['list-unknown-prop', 'structure', 'List.other'],
    ['patient-id-bad-1', 'value', 'Patient.id'],
    ['patient-id-bad-2', 'value', 'Patient.id'],
    ['resource-invalid-id-1', 'value', 'Location.id'],
    ['synthea', 'code-invalid', 'Encounter.status'],
    ['synthea', 'structure', 'Encounter.reasonCode'],
  ];
  for (const [name, code, where] of refused) {
    const found = errors(check(join(dir, `${name}.json`)));
    t.ok(found.some((i) => i.code === code && i.where === where), `${name}: ${code} at ${where}`);
  }
  // group-choice-good/bad1 and list-empty1 are R5 cases (Group.membership, List.entry without item): not R4 material.
});

t.test('FHIR server negative cases are refused with a located issue', async (t) => {
  const dir = corpus('fhir/microsoft-fhir-server');
  const cases: Array<[string, string, string]> = [
    ['ObservationWithInvalidStatus.json', 'code-invalid', 'Observation.status'],
    ['Bundle-InvalidBundleType.json', 'code-invalid', 'Bundle.type'],
    ['Bundle-TransactionWithInvalidBundleEntry.json', 'structure', 'body'],
    ['Patient.json', 'structure', 'Patient.meta.lastUpdated'],
    ['Observation-For-Patient-f001.json', 'structure', 'Observation.interpretation'],
  ];
  for (const [file, code, where] of cases) {
    const found = errors(check(join(dir, file)));
    t.ok(found.some((i) => i.code === code && i.where === where), `${file}: ${code} at ${where}`);
  }
});

t.test('required bindings: codes, Codings and CodeableConcepts outside the value set are refused', async (t) => {
  const at = (r: object): string[] => errors(validator.validate(r)).map((i) => `${i.code} ${i.where}`);
  t.same(at({ resourceType: 'Patient', gender: 'female' }), []);
  t.same(at({ resourceType: 'Patient', gender: 'F' }), ['code-invalid Patient.gender']);
  t.same(at({ resourceType: 'Patient', identifier: [{ use: 'primary', system: 'urn:x', value: '1' }] }), ['code-invalid Patient.identifier[0].use'], 'a datatype\'s binding (Identifier.use)');
  const allergy = (code: string): object => ({
    resourceType: 'AllergyIntolerance', patient: { reference: 'Patient/p1' },
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code }] },
  });
  t.same(at(allergy('active')), []);
  t.same(at(allergy('ongoing')), ['code-invalid AllergyIntolerance.clinicalStatus.coding'], 'a CodeableConcept with no coding from the value set');
});

t.test('references: type targets checked, absolute URLs read by their tail, contained and urn: in their places', async (t) => {
  const at = (ref: string): string[] => errors(validator.validate({ resourceType: 'Patient', managingOrganization: { reference: ref } })).map((i) => `${i.code} ${i.where}`);
  t.same(at('Organization/o1'), []);
  t.same(at('https://other.example/fhir/Organization/o1'), [], 'an absolute RESTful URL to the right type');
  t.same(at('https://other.example/directory/chu-lyon'), [], 'an absolute URL that names no type is not refused');
  t.same(at('https://other.example/fhir/Patient/p1'), ['structure Patient.managingOrganization.reference']);
  t.same(at('Organization/o1/_history/2'), [], 'a versioned reference');
  t.same(at('not a reference'), ['value Patient.managingOrganization.reference']);
  t.same(at('Organization?identifier=x|1'), ['not-supported Patient.managingOrganization.reference'], 'conditional references are not resolved');
});

t.test('221 of the 227 required value sets of R4 are checked offline', async (t) => {
  const table = RequiredValueSets.load();
  const bound = new Set<string>();
  for (const file of ['fhir/r4/profiles-resources.json', 'fhir/r4/profiles-types.json']) {
    for (const sd of definitionResources(file)) {
      const elements = ((sd.snapshot as { element?: Array<{ binding?: { strength?: string; valueSet?: string } }> } | undefined)?.element) ?? [];
      for (const e of elements) if (e.binding?.strength === 'required' && e.binding.valueSet) bound.add(e.binding.valueSet.split('|')[0]!);
    }
  }
  const unchecked = [...bound].filter((url) => table.codes(url) === undefined).sort();
  t.equal(bound.size, 227);
  t.same(unchecked, [
    'http://hl7.org/fhir/ValueSet/characteristic-combination', 'http://hl7.org/fhir/ValueSet/currencies', 'http://hl7.org/fhir/ValueSet/mimetypes',
    'http://hl7.org/fhir/ValueSet/subscription-notification-type', 'http://hl7.org/fhir/ValueSet/ucum-units', 'http://loinc.org/vs/LL379-9',
  ], 'only value sets of external systems (UCUM, BCP-13, ISO 4217) or absent from the definitions are left out');
});

t.test('codes of LOINC, SNOMED CT, ICD-10 and INS values that are not well-formed are warnings, not refusals', async (t) => {
  const obs = (code: string): object => ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] } });
  t.same(validator.validate(obs('2345-7')), []);
  t.same(validator.validate(obs('2345-8')).map((i) => [i.severity, i.code, i.where]), [['warning', 'code-invalid', 'Observation.code.coding[0].code']]);
  const patient = { resourceType: 'Patient', identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: '189127512501283' }] };
  t.same(validator.validate(patient).map((i) => [i.severity, i.where]), [['warning', 'Patient.identifier[0].value']], 'an INS whose NIR key is wrong');
  const condition = { resourceType: 'Condition', subject: { reference: 'Patient/p' }, code: { coding: [{ system: 'http://snomed.info/sct', code: '22298007' }, { system: 'http://hl7.org/fhir/sid/icd-10', code: 'I21.9' }] } };
  t.same(validator.validate(condition).map((i) => i.where), ['Condition.code.coding[0].code']);
});
