/**
 * Seal a message for 1..N recipient devices (ENVELOPE.md §1–3): encrypt once under a random K,
 * wrap K per device, commit to K, then sign over the ciphertext and the recipient list.
 */
import { GatewayError } from '../errors.js';
import { toBase64Url } from './base64url.js';
import { compareKids, MAX_PAYLOAD_BYTES } from './envelope-codec.js';
import {
  commitFor, encryptPayload, payloadAad, recipientParticipants, signedBytes, wrapKey, DEFAULT_CLASS, DEFAULT_TTL_MS,
} from './envelope-core.js';
import {
  ATTACHMENT_REF, LIMITS, SLUG, SUITES,
  type Envelope, type EnvelopeClass, type EnvelopeRecipient, type InnerAttachment, type InnerPlaintext, type Suite,
} from './envelope-types.js';
import { kidOf } from './keys.js';
import { cryptoReady, SIZES } from './primitives.js';
import { ed25519Sign } from './signature.js';
import type { AttachmentSecret } from './attachments.js';

const utf8 = new TextEncoder();

/** A recipient device with its published encryption keys (from its DeviceCert). */
export interface SealRecipient {
  readonly participant: string;
  readonly device: string;
  readonly x25519?: Uint8Array;
  readonly xwing?: Uint8Array;
}

/** The sending device and its Ed25519 signing key pair. */
export interface SealSender {
  readonly participant: string;
  readonly device: string;
  readonly sign: { readonly publicKey: Uint8Array; readonly privateKey: Uint8Array };
}

/** An attachment already encrypted and uploaded, plus what the reader sees of it. */
export interface SealAttachment extends AttachmentSecret {
  readonly name: string;
  readonly mime: string;
}

/** Business content of the inner plaintext; seal adds id, ts, from, to and attachments. */
export interface SealContent {
  readonly type: string;
  readonly subject?: string;
  readonly body?: unknown;
  readonly replyTo?: string | null;
  readonly thread?: string;
  readonly dirHead?: string;
  readonly [extra: string]: unknown;
}

/** Everything seal needs; limits and defaults live here. */
export interface SealOptions {
  readonly suite: Suite;
  readonly class?: EnvelopeClass;
  readonly sender: SealSender;
  readonly recipients: readonly SealRecipient[];
  readonly content: SealContent;
  readonly attachments?: readonly SealAttachment[];
  /** Sender clock in ms; defaults to Date.now(). */
  readonly now?: number;
  /** expires = ts + ttlMs; default 30 days. */
  readonly ttlMs?: number;
}

function invalid(where: string, rule: string): GatewayError {
  return new GatewayError('PSL_BAD_REQUEST', `${where}: ${rule}`);
}

/**
 * Seal and sign an envelope.
 * @param opts - suite, sender keys, recipient devices, content, attachments
 * @returns the decoded envelope (encode it with encodeEnvelope)
 * @throws GatewayError PSL_BAD_REQUEST for unusable input (unknown ids, missing keys, limits)
 */
export async function sealEnvelope(opts: SealOptions): Promise<Envelope> {
  const s = await cryptoReady();
  const { suite, sender } = opts;
  if (suite !== SUITES.classic && suite !== SUITES.hybrid) throw invalid('suite', 'unknown suite');
  if (!SLUG.test(sender.participant) || !SLUG.test(sender.device)) throw invalid('sender', 'not a valid identifier');
  if (opts.recipients.length < 1 || opts.recipients.length > LIMITS.maxRecipients) throw invalid('recipients', `expected 1..${LIMITS.maxRecipients}`);
  const atts = opts.attachments ?? [];
  if (atts.length > LIMITS.maxAttachments) throw invalid('attachments', `at most ${LIMITS.maxAttachments}`);
  for (const [i, a] of atts.entries()) {
    if (!ATTACHMENT_REF.test(a.ref) || atts.findIndex((b) => b.ref === a.ref) !== i) throw invalid(`attachments[${i}].ref`, 'invalid or duplicate');
  }

  // Each device is addressed by the kid of its key for this suite; mixing PQ and classic wraps
  // would throw the PQ protection away, so a hybrid envelope needs an X-Wing key for everyone.
  const targets = opts.recipients.map((r, i) => {
    if (!SLUG.test(r.participant) || !SLUG.test(r.device)) throw invalid(`recipients[${i}]`, 'not a valid identifier');
    const publicKey = suite === SUITES.hybrid ? r.xwing : r.x25519;
    const expected = suite === SUITES.hybrid ? SIZES.xwingPublicKey : SIZES.x25519PublicKey;
    if (publicKey?.length !== expected) throw invalid(`recipients[${i}]`, 'no encryption key for this suite');
    return { participant: r.participant, device: r.device, publicKey, kid: kidOf(s, publicKey) };
  }).sort((a, b) => compareKids(a.kid, b.kid));
  for (let i = 1; i < targets.length; i++) {
    if (compareKids(targets[i - 1]!.kid, targets[i]!.kid) === 0) throw invalid('recipients', 'same device key listed twice');
  }

  const ts = opts.now ?? Date.now();
  const expires = ts + (opts.ttlMs ?? DEFAULT_TTL_MS);
  const id = s.randombytes_buf(SIZES.id);
  const from = { participant: sender.participant, device: sender.device, kid: kidOf(s, sender.sign.publicKey) };

  const innerAttachments: InnerAttachment[] = atts.map((a) => ({
    ref: a.ref, name: a.name, mime: a.mime, key: toBase64Url(a.key), header: toBase64Url(a.header),
    size: a.size, hash: toBase64Url(a.hash), chunk: a.chunk,
  }));
  // Business fields first, so content can never overwrite the fields the recipient checks.
  const inner: InnerPlaintext = {
    ...opts.content,
    id: toBase64Url(id),
    ts,
    from: { participant: from.participant, device: from.device },
    to: recipientParticipants(targets),
    attachments: innerAttachments,
  };
  const innerBytes = utf8.encode(JSON.stringify(inner));
  if (innerBytes.length > LIMITS.maxInnerBytes) throw new GatewayError('PSL_PAYLOAD_TOO_LARGE', 'inner plaintext exceeds the one-shot limit; send large content as an attachment');

  const k = s.crypto_aead_xchacha20poly1305_ietf_keygen();
  try {
    const nonce = s.randombytes_buf(SIZES.xnonce);
    const payload = encryptPayload(s, k, nonce, payloadAad(s, { suite, id, ts, expires, from, to: targets }), innerBytes);
    if (payload.length > MAX_PAYLOAD_BYTES) throw new GatewayError('PSL_PAYLOAD_TOO_LARGE', 'payload exceeds the format limit');
    const to: EnvelopeRecipient[] = targets.map((t) => ({
      participant: t.participant, device: t.device, kid: t.kid, wrap: wrapKey(s, suite, k, id, t),
    }));
    const unsigned = {
      suite, id, ts, expires, class: opts.class ?? DEFAULT_CLASS, from, to,
      commit: commitFor(s, k, id), nonce, payload,
      attachments: atts.map((a) => ({ ref: a.ref, size: a.size, hash: a.hash })),
    };
    return { v: 1, ...unsigned, sig: ed25519Sign(s, signedBytes(s, unsigned), sender.sign.privateKey) };
  } finally {
    s.memzero(k);
  }
}
