/**
 * Types of passerelle.envelope.v1 (ENVELOPE.md §3): the wire JSON, its decoded binary form, and the
 * inner plaintext.
 */

/** The suites this module implements; which of them a deployment accepts is config (allow-list). */
export const SUITES = {
  classic: 'x25519.xchacha20poly1305.ed25519.blake2b',
  hybrid: 'xwing+x25519.xchacha20poly1305.ed25519.blake2b',
} as const;

/** A suite name as it appears on the wire and in the signed bytes. */
export type Suite = (typeof SUITES)[keyof typeof SUITES];

/** Routing class, the only content hint the gateway gets. */
export type EnvelopeClass = 'message' | 'receipt';

/** Wrap length per suite: crypto_box_seal(K ‖ id) = 48 + 48; X-Wing ct ‖ AEAD(K) = 1,120 + 48. */
export const WRAP_BYTES: Readonly<Record<Suite, number>> = {
  [SUITES.classic]: 96,
  [SUITES.hybrid]: 1168,
};

/** Sender identity as the outer header names it. */
export interface EnvelopeSender {
  readonly participant: string;
  readonly device: string;
  /** BLAKE2b-256 of the sender device's Ed25519 signing key. */
  readonly kid: Uint8Array;
}

/** One recipient device and its wrap of the content key. */
export interface EnvelopeRecipient {
  readonly participant: string;
  readonly device: string;
  /** BLAKE2b-256 of the recipient's encryption key for this suite (X25519 or X-Wing). */
  readonly kid: Uint8Array;
  readonly wrap: Uint8Array;
}

/** Outer reference to an uploaded attachment ciphertext (header ‖ chunks). */
export interface EnvelopeAttachmentRef {
  readonly ref: string;
  /** Ciphertext length in bytes, header included: what the gateway can check at upload. */
  readonly size: number;
  /** BLAKE2b-256 of the ciphertext. */
  readonly hash: Uint8Array;
}

/** A decoded envelope: every binary field as bytes, lengths already checked by the codec. */
export interface Envelope {
  readonly v: 1;
  readonly suite: Suite;
  /** 16 random bytes. */
  readonly id: Uint8Array;
  readonly ts: number;
  readonly expires: number;
  readonly class: EnvelopeClass;
  readonly from: EnvelopeSender;
  /** Sorted by kid (byte order), no duplicate kid. */
  readonly to: readonly EnvelopeRecipient[];
  readonly commit: Uint8Array;
  readonly nonce: Uint8Array;
  readonly payload: Uint8Array;
  readonly attachments: readonly EnvelopeAttachmentRef[];
  readonly sig: Uint8Array;
}

/** The wire JSON (binary fields base64url without padding). */
export interface WireEnvelope {
  v: 1;
  suite: Suite;
  id: string;
  ts: number;
  expires: number;
  class: EnvelopeClass;
  from: { participant: string; device: string; kid: string };
  to: { participant: string; device: string; kid: string; wrap: string }[];
  commit: string;
  nonce: string;
  payload: string;
  attachments: { ref: string; size: number; hash: string }[];
  sig: string;
}

/** Inner description of an attachment: what the reader needs to fetch and decrypt it. */
export interface InnerAttachment {
  ref: string;
  name: string;
  mime: string;
  /** base64url secretstream key. */
  key: string;
  /** base64url secretstream header (also the first 24 bytes of the blob). */
  header: string;
  /** Ciphertext size, equal to the outer size. */
  size: number;
  /** base64url BLAKE2b-256 of the ciphertext, equal to the outer hash. */
  hash: string;
  /** Plaintext chunk size (65,536). */
  chunk: number;
}

/** The encrypted inner plaintext (JSON before padding). id/ts/from/to repeat the outer header. */
export interface InnerPlaintext {
  /** base64url of the outer id. */
  id: string;
  ts: number;
  from: { participant: string; device: string };
  /** Sorted, de-duplicated outer recipient participants. */
  to: string[];
  type: string;
  subject?: string;
  body?: unknown;
  attachments: InnerAttachment[];
  replyTo?: string | null;
  thread?: string;
  dirHead?: string;
  /** Any further business fields (assurance, onBehalfOf, provenance …). */
  [extra: string]: unknown;
}

/** Format limits, shared by the codec, seal and open. */
export const LIMITS = {
  maxRecipients: 64,
  maxAttachments: 32,
  /** Inner JSON bytes before padding: one-shot AEAD only for small bodies (ENVELOPE.md §4). */
  maxInnerBytes: 1024 * 1024,
  /** Format ceiling for one attachment's ciphertext; the gateway's upload cap (e.g. 512 MiB) is config. */
  maxAttachmentBytes: 4 * 1024 ** 3,
  /** ts and expires are ms since the epoch; 2^53 - 1 keeps them exact in JSON. */
  maxTimestamp: Number.MAX_SAFE_INTEGER,
} as const;

/** Participant and device ids: slugs, so error messages and logs can name them safely. */
export const SLUG = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Attachment refs. */
export const ATTACHMENT_REF = /^att_[A-Za-z0-9_-]{1,64}$/;
