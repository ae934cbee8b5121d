/**
 * Checks of standard codes and French identifiers that need no code table: the shape each
 * standard gives its codes, and the check digit where there is one. A code that passes is
 * well-formed, not known to exist (that needs the operator's code lists). Pure functions; the
 * result names the rule broken, never the value.
 */

/** Why a code is not well-formed, or `ok`. */
export type CodeCheck = 'ok' | 'format' | 'check-digit' | 'partition';

/**
 * LOINC (`2345-7`): 1 to 7 digits, a hyphen, the mod-10 check digit of the digits before it
 * (LOINC Users' Guide: the Luhn algorithm).
 * @param legacy - codes the operator knows are issued without a valid check digit
 */
export function checkLoinc(code: string, legacy: ReadonlySet<string> = new Set()): CodeCheck {
  const m = /^(\d{1,7})-(\d)$/.exec(code);
  if (!m) return 'format';
  if (legacy.has(code)) return 'ok';
  return luhnCheckDigit(m[1]!) === Number(m[2]) ? 'ok' : 'check-digit';
}

/** SNOMED CT partition identifiers (the two digits before the check digit) of concepts, descriptions and relationships, core and extension. */
const SNOMED_PARTITIONS = new Set(['00', '01', '02', '10', '11', '12']);

/**
 * SNOMED CT identifier (SCTID): 6 to 18 digits, no leading zero, a known partition, and the
 * Verhoeff check digit last (SNOMED CT Technical Implementation Guide).
 */
export function checkSnomedId(id: string): CodeCheck {
  if (!/^[1-9]\d{5,17}$/.test(id)) return 'format';
  if (!SNOMED_PARTITIONS.has(id.slice(-3, -1))) return 'partition';
  return verhoeffValid(id) ? 'ok' : 'check-digit';
}

/**
 * ICD-10 as WHO and the French CIM-10 (ATIH) write it: a letter, two digits, then up to
 * four more characters, with or without the dot (`E11.9`, `E119`, CIM-10 FR extensions such as
 * `Z5130` or `S0600` and the `+`/`*` dagger-asterisk marks).
 */
export function checkIcd10(code: string): CodeCheck {
  return /^[A-Z]\d{2}(?:\.?[0-9A-Z+*]{1,4})?[+*]?$/.test(code) ? 'ok' : 'format';
}

/** ICD-10-CM (US): a letter, a digit, a digit or letter, then up to four characters after the (optional) dot. */
export function checkIcd10Cm(code: string): CodeCheck {
  return /^[A-TV-Z]\d[0-9A-Z](?:\.?[0-9A-Z]{1,4})?$/.test(code) ? 'ok' : 'format';
}

/** CCAM (French classification of medical procedures): four letters and three digits (`HHFA016`). */
export function checkCcam(code: string): CodeCheck {
  return /^[A-Z]{4}\d{3}$/.test(code) ? 'ok' : 'format';
}

/**
 * French NIR (social-security number): sex (1, 2, or 3/4/7/8 for provisional numbers), year,
 * month (01–12, or 20–42 and 50–99 when unknown), département (2A/2B for Corsica), commune,
 * order, then the key: 97 minus the 13-digit number modulo 97, Corsica's 2A and 2B counted as
 * 19 and 18. Spaces are ignored.
 */
export function checkNir(value: string): CodeCheck {
  const v = value.replace(/\s+/g, '').toUpperCase();
  const m = /^([1-478])(\d{2})(\d{2})(\d{2}|2A|2B)(\d{3})(\d{3})(\d{2})$/.exec(v);
  if (!m) return 'format';
  const month = Number(m[3]);
  if (!(month >= 1 && month <= 12) && !(month >= 20 && month <= 42) && !(month >= 50 && month <= 99)) return 'format';
  const dept = m[4] === '2A' ? '19' : m[4] === '2B' ? '18' : m[4]!;
  const number = BigInt(`${m[1]}${m[2]}${m[3]}${dept}${m[5]}${m[6]}`);
  return 97n - (number % 97n) === BigInt(m[7]!) ? 'ok' : 'check-digit';
}

/** RPPS (répertoire partagé des professionnels de santé): 11 digits. */
export function checkRpps(value: string): CodeCheck {
  return /^\d{11}$/.test(value) ? 'ok' : 'format';
}

/** ADELI: 9 digits (département, profession, order, key). */
export function checkAdeli(value: string): CodeCheck {
  return /^\d{9}$/.test(value) ? 'ok' : 'format';
}

/** FINESS (établissements sanitaires et sociaux): 9 characters, the département first (2A/2B for Corsica). */
export function checkFiness(value: string): CodeCheck {
  return /^(?:\d{2}|2A|2B)\d{7}$/.test(value) ? 'ok' : 'format';
}

/** The French national health identifier (INS) systems: NIR-based (`.4.8`) and NIA (`.4.10`, temporary). */
export const INS_OIDS = { nir: 'urn:oid:1.2.250.1.213.1.4.8', nia: 'urn:oid:1.2.250.1.213.1.4.10' } as const;

/** True when `system` is one of the INS systems. */
export function isInsSystem(system: string): boolean {
  return system === INS_OIDS.nir || system === INS_OIDS.nia;
}

/** Luhn check digit of a digit string. */
function luhnCheckDigit(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    // The rightmost digit of the payload is doubled (it sits next to the check digit).
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1], [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1], [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/** Verhoeff: the whole number, check digit included, reduces to 0 (dihedral group D5). */
function verhoeffValid(digits: string): boolean {
  let c = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(digits.length - 1 - i) - 48;
    c = VERHOEFF_D[c]![VERHOEFF_P[i % 8]![d]!]!;
  }
  return c === 0;
}
