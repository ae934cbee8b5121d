import type { Normalized, Normalizer } from '../../../gateway/core/ports.js';
import type { RawMessage } from '../../../gateway/core/types.js';
import { parseHl7 } from '../parse.js';
import { mapAdt } from './adt.js';
import { Builder } from './context.js';
import { MessageReader } from './reader.js';
import { mapOrders, mapResults } from './oru.js';

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
    default:
      return undefined;
  }
}

/**
 * HL7 v2 → canonical FHIR R4 records. Parses the raw body, dispatches on MSH-9 to a family mapper
 * and returns records with provenance and coverage. Pure and synchronous; data problems come back
 * as issues (locations and rules only, never values).
 */
export const hl7v2Normalizer: Normalizer = {
  format: 'hl7v2',
  name: 'hl7v2@1',
  normalize(raw: RawMessage): Normalized {
    const parsed = parseHl7(raw.body);
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
    const b = new Builder(new MessageReader(msg), raw, family.name);
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
  },
};
