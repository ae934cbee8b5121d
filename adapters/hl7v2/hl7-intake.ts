import type { Logger } from 'pino';
import { ERROR_REGISTRY, isGatewayError } from '../../protocol/errors.js';
import { newId } from '../../gateway/core/ids.js';
import type { IntakePort, NormalizationOutcome, Store } from '../../gateway/core/ports.js';
import { buildAck, hl7DateTime, issuesToAckErrors, type AckCode, type AckError } from './ack.js';
import { splitBatch } from './batch.js';
import { batchEnvelope } from './batch-ack.js';
import { chooseCharset, encodeText, type CharsetChoice } from './charset.js';
import type { AuthDecision } from './feed-auth.js';
import { evaluate, MessageTypeFilter, wantsAck, type AckMode, type Evaluation } from './hl7-evaluate.js';
import { storedOutcome } from '../../gateway/core/stored-outcome.js';
import { hashWithoutMsh7 } from './msh7.js';

/** Options for {@link Hl7Intake}; every policy has a safe default. */
export interface Hl7IntakeOptions {
  feed: string;
  intake: IntakePort;
  log: Logger;
  /** Default `auto`: enhanced mode when MSH-15/16 are valued. */
  ackMode?: AckMode;
  /** `ADT^A01`, `ORU^*`…; default: every type. */
  allowedMessageTypes?: readonly string[];
  /** Forced character set (overrides MSH-18). */
  encoding?: string;
  /** MSH-3/MSH-4 of our ACKs when the inbound MSH-5/MSH-6 are empty. */
  self?: { application: string; facility: string };
  /**
   * Read access to stored raws and outcomes: a duplicate's ACK is rebuilt from the original bytes
   * after the cache forgot it, and its application ACK from the stored normalization outcome.
   */
  originals?: Pick<Store, 'getRaw' | 'findByIdentifier'>;
  /** ACKs remembered for byte-identical replays. Default 10 000. */
  ackCacheSize?: number;
  /**
   * A message equal to one stored less than this long ago except for MSH-7 is a duplicate of it
   * (senders that re-stamp MSH-7 on retransmission). Default 0: only identical bytes are.
   */
  msh7WindowMs?: number;
}

/** An application ACK owed once normalization reports on `rawId` (enhanced mode, MSH-16). */
export interface AppAckRequest {
  readonly rawId: string;
  readonly evaluation: Evaluation;
  readonly charset: string;
  /** A resend: the outcome may already be stored (read it before waiting for the event). */
  readonly replay?: boolean;
}

/** The answer to one payload (one MLLP frame or one HTTP body). */
export interface Hl7Reply {
  /** Encoded ACK (or batch of ACKs); undefined when nothing is to be sent (e.g. an inbound ACK, MSH-15 NE). */
  bytes: Buffer | undefined;
  codes: AckCode[];
  appAcks: AppAckRequest[];
  /** Some message was not stored because of a transient failure: the sender should retry. */
  retryable: boolean;
  /** iconv-lite name the payload was decoded with and the ACK encoded with. */
  charset: string;
}

/** Context of one payload: who sent it and the transport's charset hint. */
export interface Hl7Context {
  auth: AuthDecision;
  fallbackCharset?: string;
  contentType?: string;
}

interface OneReply { ack: Buffer | undefined; code: AckCode | undefined; app?: AppAckRequest; retryable?: boolean }

const SELF = { application: 'PASSERELLE', facility: 'PASSERELLE' };

/**
 * HL7 v2 intake shared by the MLLP listener and HTTP: split, judge, store through the IntakePort
 * and answer each message only after its raw is durable (v2.5.1 §2.9; DESIGN rule 1).
 */
export class Hl7Intake {
  readonly feed: string;
  readonly #o: Hl7IntakeOptions;
  readonly #types: MessageTypeFilter;
  readonly #mode: AckMode;
  readonly #self: { application: string; facility: string };
  readonly #acks = new Map<string, OneReply>();
  readonly #cacheSize: number;

  /** @param options - feed policy and ports */
  constructor(options: Hl7IntakeOptions) {
    this.feed = options.feed;
    this.#o = options;
    this.#types = new MessageTypeFilter(options.allowedMessageTypes);
    this.#mode = options.ackMode ?? 'auto';
    this.#self = options.self ?? SELF;
    this.#cacheSize = options.ackCacheSize ?? 10_000;
  }

  /**
   * Handle one payload: a message, a batch (FHS/BHS…BTS/FTS) or several unwrapped messages. Each
   * message is stored and acknowledged on its own; one payload gets one response.
   * @param bytes - the payload as received (stored per message, byte for byte)
   * @param ctx - authentication verdict and transport hints
   */
  async handle(bytes: Uint8Array, ctx: Hl7Context): Promise<Hl7Reply> {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const choice = chooseCharset(buf, { ...(this.#o.encoding ? { forced: this.#o.encoding } : {}), ...(ctx.fallbackCharset ? { fallback: ctx.fallbackCharset } : {}) });
    if (choice.unknownDeclared) this.#o.log.warn({ feed: this.feed, charset: choice.charset }, 'MSH-18 names an unsupported character set; decoded by detection');
    if (!isMulti(buf)) {
      const one = await this.#one(buf, choice, ctx);
      return { bytes: one.ack, codes: one.code ? [one.code] : [], appAcks: one.app ? [one.app] : [], retryable: one.retryable === true, charset: choice.charset };
    }
    // Latin-1 maps bytes 1:1 to characters, so offsets found in this view are byte offsets. Safe
    // for UTF-8 too: segment and MSH boundaries are ASCII, never inside a multi-byte sequence.
    const view = buf.toString('latin1');
    const split = splitBatch(view);
    const acks: Buffer[] = [];
    const codes: AckCode[] = [];
    const appAcks: AppAckRequest[] = [];
    let cursor = 0;
    let retryable = false;
    for (const m of split.messages) {
      const at = view.indexOf(m, cursor);
      cursor = at + m.length;
      const one = await this.#one(buf.subarray(at, cursor), choice, ctx);
      if (one.ack !== undefined) acks.push(one.ack);
      if (one.code) codes.push(one.code);
      if (one.app) appAcks.push(one.app);
      retryable ||= one.retryable === true;
    }
    if (split.messages.length === 0) {
      const ack = this.#refusal(undefined, 'AE', { hl7Code: '100', severity: 'E', where: 'MSH', text: 'no MSH segment found' }, choice.charset);
      return { bytes: ack, codes: ['AE'], appAcks, retryable, charset: choice.charset };
    }
    this.#o.log.debug({ feed: this.feed, messages: split.messages.length, acks: acks.length }, 'batch handled');
    const body = acks.length === 0 ? undefined
      : batchEnvelope(split.envelope, acks, { now: new Date(), controlId: ackId('B'), encode: (t) => encodeText(t, choice.charset) });
    return { bytes: body, codes, appAcks, retryable, charset: choice.charset };
  }

  /**
   * The application ACK for a normalization outcome, or undefined when MSH-16 does not want one.
   * @param req - what {@link handle} returned in `appAcks`
   * @param outcome - from NormalizationEvents
   */
  appAck(req: AppAckRequest, outcome: NormalizationOutcome): Buffer | undefined {
    const ev = req.evaluation;
    if (!wantsAck(ev.header?.appAckType ?? '', outcome.ok, 'NE')) return undefined;
    const errors = outcome.ok ? [] : issuesToAckErrors(outcome.issues.filter((i) => i.severity === 'fatal' || i.severity === 'error'));
    const text = buildAck({
      header: ev.header, ...(ev.delimiters ? { delimiters: ev.delimiters } : {}), code: outcome.ok ? 'AA' : 'AE', errors,
      ackControlId: ackId('P', req.rawId), dateTime: hl7DateTime(new Date()), self: this.#self, enhanced: true,
    });
    return encodeText(text, req.charset);
  }

  /**
   * A reject for a frame that never became a message (over the size cap): AR with the rule named.
   * @param appCode - registry code, e.g. PSL_MLLP_FRAME_TOO_LARGE
   * @param text - the rule, without values
   */
  reject(appCode: string, text: string): Buffer {
    return this.#refusal(undefined, 'AR', { hl7Code: '207', severity: 'E', appCode, text }, 'latin1');
  }

  /** The duplicate-window key of a message, when the feed has a window. */
  #similar(bytes: Buffer): { similar?: { hash: string; windowMs: number } } {
    const windowMs = this.#o.msh7WindowMs ?? 0;
    const hash = windowMs > 0 ? hashWithoutMsh7(bytes) : undefined;
    return hash === undefined ? {} : { similar: { hash, windowMs } };
  }

  async #one(bytes: Buffer, choice: CharsetChoice, ctx: Hl7Context): Promise<OneReply> {
    const ev = evaluate(bytes, choice.charset, { ackMode: this.#mode, types: this.#types });
    const log = this.#o.log;
    if (ev.isAck) {
      log.debug({ feed: this.feed, ctrlId: ev.header?.controlId }, 'inbound ACK ignored');
      return { ack: undefined, code: undefined };
    }
    const reject: AckCode = ev.enhanced ? 'CR' : 'AR';
    if (!ctx.auth.ok) {
      log.warn({ feed: this.feed, code: ctx.auth.code }, 'message refused: sender not authenticated');
      return { ack: this.#refusal(ev, reject, { hl7Code: '207', severity: 'E', appCode: ctx.auth.code, text: ctx.auth.reason }, choice.charset), code: reject };
    }
    if (ev.refusal) {
      log.warn({ feed: this.feed, ctrlId: ev.header?.controlId, code: ev.refusal.hl7Code }, 'message refused: type not accepted');
      return { ack: this.#refusal(ev, reject, ev.refusal, choice.charset), code: reject };
    }
    const controlId = ev.header?.controlId;
    let result;
    try {
      result = await this.#o.intake.accept({
        feed: this.feed, participant: ctx.auth.caller.participant, format: 'hl7v2', body: bytes,
        ...(controlId ? { sourceRef: controlId } : {}),
        ...this.#similar(bytes),
        // The charset actually used travels with the raw, so the normalizer decodes it the same way.
        ...(ctx.contentType === undefined ? {} : { contentType: ctx.contentType }),
        charset: choice.charset === 'utf8' ? 'utf-8' : choice.charset,
      });
    } catch (err) {
      // Transient store failure: AE (original) / CE (enhanced, "commit error", v2.5.1 §2.9.3); never AA/CA.
      const retryable = !isGatewayError(err) || err.retryable;
      const code: AckCode = ev.enhanced ? (retryable ? 'CE' : 'CR') : (retryable ? 'AE' : 'AR');
      const appCode = isGatewayError(err) ? err.code : 'PSL_INTERNAL';
      log.warn({ feed: this.feed, ctrlId: controlId, code: appCode }, 'message not stored; negative ACK sent');
      const text = retryable ? 'message not stored, send it again later' : `message not stored: ${ERROR_REGISTRY[isGatewayError(err) ? err.code : 'PSL_INTERNAL'].message}`;
      return { ack: this.#refusal(ev, code, { hl7Code: '207', severity: 'E', appCode, text }, choice.charset), code, retryable };
    }
    if (result.status === 'duplicate') {
      // A resend gets every answer the original asked for: the commit ACK and, when MSH-16 wants one,
      // the application ACK again (the sender may never have read the first one).
      const replay = await this.#replay(result.rawId, ev, choice.charset);
      log.debug({ feed: this.feed, rawId: result.rawId, ctrlId: controlId }, 'duplicate: original ACK replayed');
      return { ack: replay.ack, code: replay.code, ...(replay.app ? { app: { ...replay.app, replay: true } } : {}) };
    }
    const reply = withApp(stored(ev, result.rawId, new Date(), this.#self, choice.charset), ev, result.rawId, choice.charset);
    this.#remember(result.rawId, reply);
    log.debug({ feed: this.feed, rawId: result.rawId, ctrlId: controlId, code: reply.code }, 'message stored and acknowledged');
    return reply;
  }

  /**
   * The stored normalization outcome of rawId, or undefined while it is pending (or without a store).
   * @param rawId - a stored raw
   */
  async outcomeOf(rawId: string): Promise<NormalizationOutcome | undefined> {
    return this.#o.originals ? (await storedOutcome(this.#o.originals, rawId))?.outcome : undefined;
  }

  /** The ACK first sent for rawId: from the cache, else rebuilt from the original bytes (MSH-7 then differs). */
  async #replay(rawId: string, current: Evaluation, charset: string): Promise<OneReply> {
    const cached = this.#acks.get(rawId);
    if (cached) return cached;
    const original = this.#o.originals ? await this.#o.originals.getRaw(rawId) : undefined;
    if (!original) return withApp(stored(current, rawId, new Date(), this.#self, charset), current, rawId, charset);
    const choice = chooseCharset(original.body, this.#o.encoding ? { forced: this.#o.encoding } : {});
    const ev = evaluate(original.body, choice.charset, { ackMode: this.#mode, types: this.#types });
    const reply = withApp(stored(ev, rawId, original.receivedAt, this.#self, choice.charset), ev, rawId, choice.charset);
    this.#remember(rawId, reply);
    return reply;
  }

  #remember(rawId: string, reply: OneReply): void {
    if (this.#acks.size >= this.#cacheSize) this.#acks.delete(this.#acks.keys().next().value as string);
    this.#acks.set(rawId, { ack: reply.ack, code: reply.code, ...(reply.app ? { app: reply.app } : {}) });
  }

  #refusal(ev: Evaluation | undefined, code: AckCode, error: AckError, charset: string): Buffer {
    return encodeText(buildAck({
      header: ev?.header, ...(ev?.delimiters ? { delimiters: ev.delimiters } : {}), code, errors: [error],
      ackControlId: ackId('R'), dateTime: hl7DateTime(new Date()), self: this.#self, enhanced: ev?.enhanced === true,
    }), charset);
  }
}

/** The ACK for a message now durably stored. Deterministic in (message, rawId) apart from MSH-7. */
function stored(ev: Evaluation, rawId: string, at: Date, self: { application: string; facility: string }, charset: string): OneReply {
  const base = { header: ev.header, ...(ev.delimiters ? { delimiters: ev.delimiters } : {}), ackControlId: ackId('A', rawId), dateTime: hl7DateTime(at), self };
  if (ev.enhanced) {
    // Commit ACK only: content errors go into the application ACK (MSH-16). MSH-15 NE/ER suppress it.
    if (!wantsAck(ev.header?.acceptAckType ?? '', true, 'AL')) return { ack: undefined, code: undefined };
    return { ack: encodeText(buildAck({ ...base, code: 'CA', enhanced: true }), charset), code: 'CA' };
  }
  return ev.errors.length > 0
    ? { ack: encodeText(buildAck({ ...base, code: 'AE', errors: ev.errors }), charset), code: 'AE' }
    : { ack: encodeText(buildAck({ ...base, code: 'AA' }), charset), code: 'AA' };
}

/** Adds the application ACK request when the message is enhanced and MSH-16 may want one. */
function withApp(reply: OneReply, ev: Evaluation, rawId: string, charset: string): OneReply {
  const appType = (ev.header?.appAckType ?? '').toUpperCase();
  return ev.enhanced && appType !== '' && appType !== 'NE' ? { ...reply, app: { rawId, evaluation: ev, charset } } : reply;
}

/**
 * MSH-10 of our ACKs: at most 20 characters (ST in v2.5). Derived from the raw id when there is
 * one, so a rebuilt ACK carries the same control ID as the first.
 */
function ackId(kind: 'A' | 'P' | 'R' | 'B', rawId?: string): string {
  const ulid = (rawId ?? newId('x')).split('_')[1] ?? '';
  return `${kind}${ulid.slice(0, 19)}`;
}

function isMulti(buf: Buffer): boolean {
  let i = 0;
  while (i < buf.length && (buf[i] === 0x0d || buf[i] === 0x0a || buf[i] === 0x20 || buf[i] === 0xef || buf[i] === 0xbb || buf[i] === 0xbf)) i++;
  const head = buf.toString('latin1', i, i + 3);
  if (head === 'FHS' || head === 'BHS') return true;
  return buf.indexOf('\rMSH', i + 3, 'latin1') !== -1 || buf.indexOf('\nMSH', i + 3, 'latin1') !== -1;
}

