import type { Normalized, Normalizer } from '../../../gateway/core/ports.js';
import type { RawMessage } from '../../../gateway/core/types.js';
import { parseHl7 } from '../parse.js';
import { chooseCharset, decodeText, resolveCharset } from '../charset.js';
import { mapAdt } from './adt.js';
import { Builder } from './context.js';
import type { Hl7v2IdentityOptions } from './identity.js';
import { checkTimeZone } from './local-time.js';
import { MessageReader } from './reader.js';
import { mapOrders, mapResults } from './oru.js';
import { mapDocument } from './mdm.js';
import { mapFinancial } from './financial.js';
import { mapPharmacy } from './pharmacy.js';
import { mapProblemMessage } from './ppr.js';
import { mapSchedule } from './siu.js';
import { mapVaccination } from './vxu.js';

/** A family mapper: adds records to the builder; never throws on data. */
type FamilyMapper = (b: Builder) => void;

interface Family { name: string; map: FamilyMapper }

/** MSH-9.1 message code (with trigger where it matters) → family. */
function familyOf(code: string, trigger: string): Family | undefined {
  switch (code) {
    case 'ADT':
      return { name: 'adt', map: mapAdt };
    case 'ORU':
      return trigger === 'R01' || trigger === 'R30' || trigger === 'R31' || trigger === 'R32' || trigger === ''
        ? { name: 'oru', map: mapResults }
        : undefined;
    case 'OUL':
      return ['R21', 'R22', 'R23', 'R24'].includes(trigger) ? { name: 'oul', map: mapResults } : undefined;
    case 'ORM':
      return trigger === 'O01' ? { name: 'orm', map: mapOrders } : undefined;
    case 'OML':
      return ['O21', 'O33', 'O35', 'O39'].includes(trigger) ? { name: 'oml', map: mapOrders } : undefined;
    case 'OMG':
      return trigger === 'O19' ? { name: 'omg', map: mapOrders } : undefined;
    case 'REF':
      return ['I12', 'I13', 'I14', 'I15'].includes(trigger) ? { name: 'ref', map: mapOrders } : undefined;
    case 'SIU':
      return /^S(1[2-9]|2[0-6])$/.test(trigger) ? { name: 'siu', map: mapSchedule } : undefined;
    case 'VXU':
      return trigger === 'V04' ? { name: 'vxu', map: mapVaccination } : undefined;
    case 'MDM':
      return /^T(0[1-9]|1[01])$/.test(trigger) ? { name: 'mdm', map: mapDocument } : undefined;
    case 'RDE':
      return trigger === 'O11' || trigger === 'O25' ? { name: 'rde', map: mapPharmacy } : undefined;
    case 'RDS':
      return trigger === 'O13' ? { name: 'rds', map: mapPharmacy } : undefined;
    case 'DFT':
      return trigger === 'P03' || trigger === 'P11' ? { name: 'dft', map: mapFinancial } : undefined;
    case 'BAR':
      return ['P01', 'P02', 'P05', 'P06', 'P10', 'P12'].includes(trigger) ? { name: 'bar', map: mapFinancial } : undefined;
    case 'PPR':
      return ['PC1', 'PC2', 'PC3'].includes(trigger) ? { name: 'ppr', map: mapProblemMessage } : undefined;
    default:
      return undefined;
  }
}

/** Options for {@link createHl7v2Normalizer}. */
export interface Hl7v2NormalizerOptions {
  /**
   * IANA time zone of the sender (e.g. `Europe/Paris`), used for times sent without a UTC offset.
   * Unset: such times stay local (no offset) and each message carries a warning.
   */
  timeZone?: string;
  /** Which identifiers of this feed prove identity (record `matchKeys`); see identity.ts. */
  identity?: Hl7v2IdentityOptions;
}

export type { Hl7v2IdentityOptions } from './identity.js';

/**
 * HL7 v2 → canonical FHIR R4 records. Parses the raw body, dispatches on MSH-9 to a family mapper
 * and returns records with provenance and coverage. Pure and synchronous; data problems come back
 * as issues (locations and rules only, never values).
 * @throws TypeError when `timeZone` is not a known IANA zone (configuration, not data)
 */
export function createHl7v2Normalizer(options: Hl7v2NormalizerOptions = {}): Normalizer {
  if (options.timeZone !== undefined) checkTimeZone(options.timeZone);
  const timeZone = options.timeZone;
  // Copied so a caller mutating its options later cannot change how records match.
  const identity: Hl7v2IdentityOptions = {
    ...(options.identity?.patientIdentifierTypes ? { patientIdentifierTypes: [...options.identity.patientIdentifierTypes] } : {}),
    ...(options.identity?.qualifiedNationalId !== undefined ? { qualifiedNationalId: options.identity.qualifiedNationalId } : {}),
  };
  return {
    format: 'hl7v2',
    name: 'hl7v2@1',
    normalize: (raw: RawMessage): Normalized => normalize(raw, timeZone, identity),
  };
}

/** The normalizer with default options (no time zone: offset-less times stay local). */
export const hl7v2Normalizer: Normalizer = createHl7v2Normalizer();

/**
 * The raw's text in the charset the intake chose (feed override, MSH-18, transport), recorded as
 * RawMessage.charset. Raws stored before that field carry it as `charset=` on their content
 * type; without either, the same choice is made again here.
 */
function decodeRaw(raw: RawMessage): string {
  const declared = raw.charset ?? /;\s*charset=([^;\s]+)/i.exec(raw.contentType ?? '')?.[1];
  const charset = declared ? resolveCharset(declared) : undefined;
  return decodeText(raw.body, charset ?? chooseCharset(raw.body).charset);
}

function normalize(raw: RawMessage, timeZone: string | undefined, identity: Hl7v2IdentityOptions): Normalized {
  const parsed = parseHl7(decodeRaw(raw));
  if (!parsed.ok) return { ok: false, issues: parsed.issues };
  const msg = parsed.message;
  const { code, trigger } = msg.header.messageType;
  const family = familyOf(code.toUpperCase(), trigger.toUpperCase());
  if (!family) {
    return {
      ok: false,
      issues: [...parsed.issues, { severity: 'error', code: 'not-supported', where: 'MSH-9', message: 'MSH-9 message type is not supported by the HL7 v2 normalizer' }],
    };
  }
  const b = new Builder(new MessageReader(msg), raw, family.name, { timeZone, identity });
  try {
    family.map(b);
  } catch (err) {
    // A mapper bug must not take the worker down or lose the raw: report it as a processing issue.
    const name = err instanceof Error ? err.name : 'Error';
    return { ok: false, issues: [...parsed.issues, ...b.issues, { severity: 'fatal', code: 'exception', where: 'MSH-9', message: `the ${family.name} mapping failed (${name})` }] };
  }
  const records = b.finish();
  const issues = [...parsed.issues, ...b.issues];
  if (records.length === 0) {
    return { ok: false, issues: [...issues, { severity: 'error', code: 'required', where: 'message', message: 'the message yielded no record' }] };
  }
  return { ok: true, records, issues };
}
