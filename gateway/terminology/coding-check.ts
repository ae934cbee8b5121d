import { checkCcam, checkIcd10, checkIcd10Cm, checkLoinc, checkNir, checkSnomedId, INS_OIDS, type CodeCheck } from './code-checks.js';

/** FHIR system URIs (and the OIDs French senders use) of the code systems checked without tables. */
export const CODE_SYSTEMS = {
  loinc: 'http://loinc.org',
  snomed: 'http://snomed.info/sct',
  icd10: 'http://hl7.org/fhir/sid/icd-10',
  icd10Oid: 'urn:oid:2.16.840.1.113883.6.3',
  icd10Cm: 'http://hl7.org/fhir/sid/icd-10-cm',
  ccam: 'urn:oid:1.2.250.1.213.2.5',
} as const;

const BY_SYSTEM: ReadonlyMap<string, { name: string; check: (code: string) => CodeCheck }> = new Map([
  [CODE_SYSTEMS.loinc, { name: 'LOINC', check: (c: string) => checkLoinc(c) }],
  [CODE_SYSTEMS.snomed, { name: 'SNOMED CT', check: checkSnomedId }],
  [CODE_SYSTEMS.icd10, { name: 'ICD-10', check: checkIcd10 }],
  [CODE_SYSTEMS.icd10Oid, { name: 'ICD-10', check: checkIcd10 }],
  [CODE_SYSTEMS.icd10Cm, { name: 'ICD-10-CM', check: checkIcd10Cm }],
  [CODE_SYSTEMS.ccam, { name: 'CCAM', check: checkCcam }],
  [INS_OIDS.nir, { name: 'INS (NIR)', check: checkNir }],
]);

const RULE: Record<Exclude<CodeCheck, 'ok'>, string> = {
  format: 'not in the form the standard gives its codes',
  'check-digit': 'with a wrong check digit',
  partition: 'with no valid partition identifier',
};

/**
 * What is wrong with a code (or an identifier value) of a system checked without tables, as a
 * message that names the system and the rule, never the value; undefined when it is well-formed
 * or its system is not one of these.
 */
export function codeProblem(system: string, code: string): string | undefined {
  const entry = BY_SYSTEM.get(system);
  if (!entry) return undefined;
  const result = entry.check(code);
  return result === 'ok' ? undefined : `a ${entry.name} code ${RULE[result]}`;
}

/**
 * Every Coding (`system` + `code`) and Identifier (`system` + `value`) anywhere in a FHIR
 * resource whose code is not well-formed, with its FHIRPath-like path from `root`. For
 * normalizers that build resources from other formats.
 */
export function codeProblemsIn(value: unknown, root: string): Array<{ where: string; message: string }> {
  const out: Array<{ where: string; message: string }> = [];
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${path}[${i}]`));
      return;
    }
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (typeof o.system === 'string') {
      const key = typeof o.code === 'string' ? 'code' : typeof o.value === 'string' ? 'value' : undefined;
      const problem = key === undefined ? undefined : codeProblem(o.system, o[key] as string);
      if (problem) out.push({ where: `${path}.${key}`, message: problem });
    }
    for (const [k, x] of Object.entries(o)) if (typeof x === 'object' && x !== null) walk(x, `${path}.${k}`);
  };
  walk(value, root);
  return out;
}
