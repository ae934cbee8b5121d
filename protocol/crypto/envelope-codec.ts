/**
 * Wire JSON ⇄ decoded envelope, with strict validation: every field present, nothing unknown,
 * canonical base64url, exact lengths. Errors name the field, never its value (values may be PHI
 * or attacker-chosen text that would end up in logs).
 */
import { GatewayError } from '../errors.js';
import { fromBase64Url, toBase64Url } from './base64url.js';
import {
  ATTACHMENT_REF, LIMITS, SLUG, SUITES, WRAP_BYTES,
  type Envelope, type EnvelopeAttachmentRef, type EnvelopeRecipient, type Suite, type WireEnvelope,
} from './envelope-types.js';
import { SIZES } from './primitives.js';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const KNOWN_SUITES: ReadonlySet<string> = new Set(Object.values(SUITES));

/** Largest payload ciphertext: padded inner plus the tag. */
export const MAX_PAYLOAD_BYTES =
  Math.ceil((LIMITS.maxInnerBytes + 1) / SIZES.padBlock) * SIZES.padBlock + SIZES.tag;

function malformed(where: string, rule: string): GatewayError {
  return new GatewayError('PSL_ENVELOPE_MALFORMED', `${where}: ${rule}`);
}

type Obj = Record<string, unknown>;

function object(value: unknown, where: string, keys: readonly string[]): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(where, 'expected an object');
  const o = value as Obj;
  for (const k of Object.keys(o)) {
    // Name an unknown key only when it looks like an identifier: keys are attacker-chosen text too.
    if (!keys.includes(k)) throw malformed(/^[A-Za-z0-9_]{1,32}$/.test(k) ? `${where}.${k}` : where, 'unknown field');
  }
  for (const k of keys) if (!Object.hasOwn(o, k)) throw malformed(`${where}.${k}`, 'missing');
  return o;
}

function array(value: unknown, where: string, min: number, max: number): unknown[] {
  if (!Array.isArray(value)) throw malformed(where, 'expected an array');
  if (value.length < min || value.length > max) throw malformed(where, `expected ${min}..${max} entries`);
  return value;
}

function slug(value: unknown, where: string, pattern: RegExp = SLUG): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw malformed(where, 'not a valid identifier');
  return value;
}

function uint(value: unknown, where: string, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw malformed(where, `expected an integer in 0..${max}`);
  }
  return value;
}

function bytes(value: unknown, where: string, len: number | ((n: number) => boolean)): Uint8Array {
  const out = typeof value === 'string' ? fromBase64Url(value) : undefined;
  if (out === undefined) throw malformed(where, 'expected canonical unpadded base64url');
  if (typeof len === 'number' ? out.length !== len : !len(out.length)) {
    throw malformed(where, typeof len === 'number' ? `expected ${len} bytes` : 'wrong length');
  }
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Byte-order comparison of kids (the order recipients take on the wire and in the signed bytes).
 * @param a - first kid
 * @param b - second kid
 */
export function compareKids(a: Uint8Array, b: Uint8Array): number {
  return compareBytes(a, b);
}

/**
 * Check the wire JSON value and decode it.
 * @param value - parsed JSON (see decodeEnvelope for bytes or text)
 * @throws GatewayError PSL_ENVELOPE_MALFORMED naming the offending field
 */
export function fromWire(value: unknown): Envelope {
  const o = object(value, 'envelope', [
    'v', 'suite', 'id', 'ts', 'expires', 'class', 'from', 'to', 'commit', 'nonce', 'payload', 'attachments', 'sig',
  ]);
  if (o.v !== 1) throw malformed('v', 'unsupported version');
  if (typeof o.suite !== 'string' || !KNOWN_SUITES.has(o.suite)) throw malformed('suite', 'not a known suite');
  const suite = o.suite as Suite;
  if (o.class !== 'message' && o.class !== 'receipt') throw malformed('class', 'expected message or receipt');
  const ts = uint(o.ts, 'ts', LIMITS.maxTimestamp);
  const expires = uint(o.expires, 'expires', LIMITS.maxTimestamp);
  if (expires <= ts) throw malformed('expires', 'must be after ts');

  const f = object(o.from, 'from', ['participant', 'device', 'kid']);
  const from = { participant: slug(f.participant, 'from.participant'), device: slug(f.device, 'from.device'), kid: bytes(f.kid, 'from.kid', SIZES.kid) };

  const to: EnvelopeRecipient[] = array(o.to, 'to', 1, LIMITS.maxRecipients).map((r, i) => {
    const w = `to[${i}]`;
    const e = object(r, w, ['participant', 'device', 'kid', 'wrap']);
    return {
      participant: slug(e.participant, `${w}.participant`),
      device: slug(e.device, `${w}.device`),
      kid: bytes(e.kid, `${w}.kid`, SIZES.kid),
      wrap: bytes(e.wrap, `${w}.wrap`, WRAP_BYTES[suite]),
    };
  });
  // One canonical order: strictly ascending kids, which also refuses a device listed twice.
  for (let i = 1; i < to.length; i++) {
    if (compareKids(to[i - 1]!.kid, to[i]!.kid) >= 0) throw malformed(`to[${i}].kid`, 'recipients must be sorted by kid without duplicates');
  }

  const refs = new Set<string>();
  const attachments: EnvelopeAttachmentRef[] = array(o.attachments, 'attachments', 0, LIMITS.maxAttachments).map((a, i) => {
    const w = `attachments[${i}]`;
    const e = object(a, w, ['ref', 'size', 'hash']);
    const ref = slug(e.ref, `${w}.ref`, ATTACHMENT_REF);
    if (refs.has(ref)) throw malformed(`${w}.ref`, 'duplicate ref');
    refs.add(ref);
    return { ref, size: uint(e.size, `${w}.size`, LIMITS.maxAttachmentBytes), hash: bytes(e.hash, `${w}.hash`, SIZES.attachmentHash) };
  });

  return {
    v: 1,
    suite,
    id: bytes(o.id, 'id', SIZES.id),
    ts,
    expires,
    class: o.class,
    from,
    to,
    commit: bytes(o.commit, 'commit', SIZES.commit),
    nonce: bytes(o.nonce, 'nonce', SIZES.xnonce),
    // sodium.pad makes the plaintext a non-empty multiple of the block; anything else is forged.
    payload: bytes(o.payload, 'payload', (n) => n > SIZES.tag && n <= MAX_PAYLOAD_BYTES && (n - SIZES.tag) % SIZES.padBlock === 0),
    attachments,
    sig: bytes(o.sig, 'sig', SIZES.sig),
  };
}

/**
 * The wire JSON value of an envelope.
 * @param env - decoded envelope
 */
export function toWire(env: Envelope): WireEnvelope {
  return {
    v: 1,
    suite: env.suite,
    id: toBase64Url(env.id),
    ts: env.ts,
    expires: env.expires,
    class: env.class,
    from: { participant: env.from.participant, device: env.from.device, kid: toBase64Url(env.from.kid) },
    to: env.to.map((r) => ({ participant: r.participant, device: r.device, kid: toBase64Url(r.kid), wrap: toBase64Url(r.wrap) })),
    commit: toBase64Url(env.commit),
    nonce: toBase64Url(env.nonce),
    payload: toBase64Url(env.payload),
    attachments: env.attachments.map((a) => ({ ref: a.ref, size: a.size, hash: toBase64Url(a.hash) })),
    sig: toBase64Url(env.sig),
  };
}

/**
 * Encode an envelope as UTF-8 JSON bytes.
 * @param env - decoded envelope
 */
export function encodeEnvelope(env: Envelope): Uint8Array {
  return utf8.encode(JSON.stringify(toWire(env)));
}

/**
 * Parse and validate an envelope from UTF-8 JSON bytes or text.
 * @param input - the bytes or text received
 * @throws GatewayError PSL_ENVELOPE_MALFORMED naming the offending field
 */
export function decodeEnvelope(input: Uint8Array | string): Envelope {
  let text: string;
  try {
    text = typeof input === 'string' ? input : utf8Strict.decode(input);
  } catch (cause) {
    throw new GatewayError('PSL_ENVELOPE_MALFORMED', 'envelope: not valid UTF-8', { cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // No cause: SyntaxError messages quote the input.
    throw malformed('envelope', 'not valid JSON');
  }
  return fromWire(value);
}
