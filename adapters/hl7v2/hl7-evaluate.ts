import type { Issue } from '../../gateway/core/issues.js';
import { issuesToAckErrors, type AckError } from './ack.js';
import { decodeText } from './charset.js';
import { parseHl7, type Hl7Delimiters, type Hl7Header } from './parse.js';

/** How a feed acknowledges: always original, always enhanced, or as MSH-15/16 ask (v2.5.1 §2.9). */
export type AckMode = 'original' | 'enhanced' | 'auto';

/**
 * Everything the ACK depends on, computed from the message bytes alone. Pure, so a duplicate's
 * ACK can be rebuilt from the original bytes and come out the same.
 */
export interface Evaluation {
  header: Hl7Header | undefined;
  delimiters: Hl7Delimiters | undefined;
  /** Enhanced mode: a commit ACK now, an application ACK after normalization if MSH-16 asks. */
  enhanced: boolean;
  /** ACK messages are never stored or answered (a peer acknowledging our application ACK). */
  isAck: boolean;
  /** Parse problems (fatal/error) that make this an AE in original mode. */
  errors: AckError[];
  /** Why this feed must not take it (type not allowed); answered AR/CR and not stored. */
  refusal: AckError | undefined;
}

/**
 * A compiled `allowedMessageTypes` list: `ADT^A01`, `ORU^*`, `ADT` (any trigger), `*`.
 * Undefined or empty allows every type.
 */
export class MessageTypeFilter {
  readonly #exact = new Set<string>();
  readonly #codes = new Set<string>();
  readonly #all: boolean;

  /** @param patterns - `CODE^TRIGGER`, `CODE^*`, `CODE` or `*` */
  constructor(patterns: readonly string[] | undefined) {
    this.#all = !patterns || patterns.length === 0 || patterns.includes('*');
    for (const p of patterns ?? []) {
      const [code = '', trigger = '*'] = p.toUpperCase().split('^');
      if (trigger === '*') this.#codes.add(code);
      else this.#exact.add(`${code}^${trigger}`);
    }
  }

  /**
   * `ok`, or which part is refused: table 0357 code 200 (message type) or 201 (event).
   * @param code - MSH-9.1
   * @param trigger - MSH-9.2
   */
  check(code: string, trigger: string): 'ok' | '200' | '201' {
    if (this.#all) return 'ok';
    const c = code.toUpperCase();
    if (this.#codes.has(c) || this.#exact.has(`${c}^${trigger.toUpperCase()}`)) return 'ok';
    for (const e of this.#exact) if (e.startsWith(`${c}^`)) return '201';
    return '200';
  }
}

/**
 * Decode, parse and judge one message.
 * @param bytes - one message (not a batch)
 * @param charset - iconv-lite name chosen for this payload
 * @param options - feed policy
 */
export function evaluate(bytes: Uint8Array, charset: string, options: { ackMode: AckMode; types: MessageTypeFilter }): Evaluation {
  const parsed = parseHl7(decodeText(bytes, charset));
  if (!parsed.ok) {
    return { header: undefined, delimiters: undefined, enhanced: false, isAck: false, errors: issuesToAckErrors(parsed.issues), refusal: undefined };
  }
  const header = parsed.message.header;
  const delimiters = parsed.message.delimiters;
  // MSH-15/16 valued means the sender speaks enhanced mode (v2.5.1 §2.9.3).
  const enhanced = options.ackMode === 'enhanced' || (options.ackMode === 'auto' && (header.acceptAckType !== '' || header.appAckType !== ''));
  const isAck = header.messageType.code.toUpperCase() === 'ACK';
  const errors = issuesToAckErrors(parsed.issues.filter(isError));
  const verdict = options.types.check(header.messageType.code, header.messageType.trigger);
  const refusal: AckError | undefined = verdict === 'ok' ? undefined : {
    where: verdict === '200' ? 'MSH-9.1' : 'MSH-9.2', hl7Code: verdict, severity: 'E', appCode: 'PSL_FORBIDDEN',
    text: verdict === '200' ? 'message type is not accepted on this feed' : 'trigger event is not accepted on this feed',
  };
  return { header, delimiters, enhanced, isAck, errors, refusal };
}

function isError(i: Issue): boolean {
  return i.severity === 'fatal' || i.severity === 'error';
}

/**
 * Whether an enhanced-mode acknowledgment should be sent, per MSH-15 or MSH-16 (table 0155):
 * AL always, NE never, ER only on error, SU only on success. Empty means AL for the commit ACK
 * (a sender that forced enhanced mode still needs to know its message is safe) and NE for the
 * application ACK.
 * @param type - MSH-15 or MSH-16
 * @param success - the outcome being acknowledged
 * @param whenEmpty - default when the field is empty
 */
export function wantsAck(type: string, success: boolean, whenEmpty: 'AL' | 'NE'): boolean {
  switch ((type || whenEmpty).toUpperCase()) {
    case 'AL': return true;
    case 'NE': return false;
    case 'ER': return !success;
    case 'SU': return success;
    default: return whenEmpty === 'AL';
  }
}
