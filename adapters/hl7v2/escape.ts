import { decodeHl7Bytes } from './decode.js';

/**
 * The five delimiters of one message, read from MSH-1 and MSH-2 (HL7 v2.5.1 §2.5.4).
 * `escape` is '' when escaping is disabled (the sender declared the same character twice).
 */
export interface Hl7Delimiters {
  readonly segment: '\r';
  readonly field: string;
  readonly component: string;
  readonly repetition: string;
  readonly escape: string;
  readonly subcomponent: string;
}

/** The standard delimiters `|^~\&`. */
export const DEFAULT_DELIMITERS: Hl7Delimiters = Object.freeze({
  segment: '\r', field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&',
});

const HEX = /^(?:[0-9A-Fa-f]{2})+$/;

/**
 * Decode escape sequences in one leaf value (HL7 v2.5.1 §2.7): \F\ \S\ \T\ \R\ \E\ map to the
 * delimiters, \Xhh…\ to bytes, \.br\ to a line break; \H\ and \N\ (highlighting) are dropped.
 * Anything else, and an escape without its closing character, is kept literally.
 * @param raw - leaf text exactly as in the message
 * @param d - the message's delimiters
 */
export function unescapeHl7(raw: string, d: Hl7Delimiters): string {
  const esc = d.escape;
  if (esc === '') return raw;
  let i = raw.indexOf(esc);
  if (i === -1) return raw;
  let out = '';
  let last = 0;
  while (i !== -1) {
    const j = raw.indexOf(esc, i + 1);
    if (j === -1) break;
    const decoded = decodeSequence(raw.slice(i + 1, j), d);
    if (decoded !== undefined) {
      out += raw.slice(last, i) + decoded;
      last = j + 1;
    }
    i = raw.indexOf(esc, j + 1);
  }
  return last === 0 ? raw : out + raw.slice(last);
}

function decodeSequence(body: string, d: Hl7Delimiters): string | undefined {
  switch (body) {
    case 'F': return d.field;
    case 'S': return d.component;
    case 'T': return d.subcomponent;
    case 'R': return d.repetition;
    case 'E': return d.escape;
    case '.br': return '\n';
    case 'H': case 'N': return '';
    default:
      if (body.length > 2 && body.charCodeAt(0) === 0x58 /* X */ && HEX.test(body.slice(1))) {
        return decodeHl7Bytes(Buffer.from(body.slice(1), 'hex')).text;
      }
      return undefined;
  }
}

/**
 * Escape text for use as one leaf value (the inverse of {@link unescapeHl7}); for ACK builders.
 * @param text - plain text
 * @param d - the delimiters of the message being built
 */
export function escapeHl7(text: string, d: Hl7Delimiters): string {
  const esc = d.escape;
  if (esc === '') return text;
  let out = '';
  for (const ch of text) {
    if (ch === esc) out += `${esc}E${esc}`;
    else if (ch === d.field) out += `${esc}F${esc}`;
    else if (ch === d.component) out += `${esc}S${esc}`;
    else if (ch === d.subcomponent) out += `${esc}T${esc}`;
    else if (ch === d.repetition) out += `${esc}R${esc}`;
    else if (ch === '\r' || ch === '\n') out += `${esc}.br${esc}`;
    else out += ch;
  }
  return out;
}
