/**
 * `rejected` receipts: a recipient device that refuses an envelope (bad signature, key
 * commitment, tampered ciphertext, not addressed to it, …) says so instead of acknowledging it.
 * The device signs the receipt with its own Ed25519 signing key, so the gateway checks it against
 * the directory before recording it and the sender can check it again against its own checked
 * directory view: unlike `delivered`, this is the recipient's word, not the gateway's.
 *
 * The receipt carries a reason CODE from a closed list, never content. This module is the one
 * definition of its signed bytes; gateway/relay and the client both import it.
 */
import { fromBase64Url, toBase64Url } from './base64url.js';
import { SLUG } from './envelope-types.js';
import type { OpenFailure } from './envelope-verify.js';
import { kidOf } from './keys.js';
import { be64, pae } from './pae.js';
import { ed25519Sign, ed25519Verify } from './signature.js';
import type { Sodium } from './sodium.js';

/** Why a device refused an envelope. Stable: the sender's UI and the gateway switch on it. */
export const REJECT_REASONS = [
  'malformed', 'suite', 'sender-unknown', 'sender-revoked', 'sender-expired', 'bad-signature', 'expired', 'future',
  'not-for-me', 'undecryptable', 'key-commitment', 'inner-mismatch', 'attachment',
] as const;

/** One reason code. */
export type RejectReason = (typeof REJECT_REASONS)[number];

/**
 * The reason code for each refusal of openEnvelope. `replay` has none: a replayed id is one this
 * device already took, so the outcome of its first delivery stands (the client acks it).
 */
export const REJECT_REASON_OF: Readonly<Record<Exclude<OpenFailure, 'replay'>, RejectReason>> = {
  'suite': 'suite', 'sender-unknown': 'sender-unknown', 'sender-revoked': 'sender-revoked', 'sender-expired': 'sender-expired',
  'signature': 'bad-signature', 'expired': 'expired', 'future': 'future', 'not-a-recipient': 'not-for-me',
  'wrap': 'undecryptable', 'payload': 'undecryptable', 'commit': 'key-commitment', 'inner-mismatch': 'inner-mismatch',
  'attachment': 'attachment',
};

/** A recipient device's signed refusal of one envelope. */
export interface RejectedReceipt {
  type: 'rejected';
  /** base64url envelope id. */
  id: string;
  /** Sender participant of the envelope. */
  sender: string;
  /** The rejecting device. */
  participant: string;
  device: string;
  reason: RejectReason;
  /** base64url BLAKE2b-256 of the canonical envelope bytes the device received; empty when they did not decode. */
  hash: string;
  /** Device clock, epoch ms. */
  rejectedAt: number;
  /** base64url kid of the device signing key. */
  kid: string;
  sig: string;
}

/** The receipt without its signature. */
export type RejectedReceiptBody = Omit<RejectedReceipt, 'sig'>;

/** The bytes the device signs: domain-separated PAE of every field, in this order. */
export function rejectedReceiptBytes(r: RejectedReceiptBody): Uint8Array {
  return pae(['passerelle/receipt/rejected/v1', r.id, r.sender, r.participant, r.device, r.reason, r.hash, be64(r.rejectedAt), r.kid]);
}

/**
 * Sign a rejection with the device's signing key (the kid is derived from it).
 * @param s - libsodium
 * @param body - the receipt without kid and signature
 * @param key - the device's Ed25519 signing key pair
 */
export function signRejectedReceipt(s: Sodium, body: Omit<RejectedReceiptBody, 'kid'>, key: { publicKey: Uint8Array; privateKey: Uint8Array }): RejectedReceipt {
  const full: RejectedReceiptBody = { ...body, kid: toBase64Url(kidOf(s, key.publicKey)) };
  return { ...full, sig: toBase64Url(ed25519Sign(s, rejectedReceiptBytes(full), key.privateKey)) };
}

const ID_TEXT = /^[A-Za-z0-9_-]{1,128}$/;
const HASH_TEXT = /^(?:[A-Za-z0-9_-]{43})?$/;
const KID_TEXT = /^[A-Za-z0-9_-]{43}$/;
const SIG_TEXT = /^[A-Za-z0-9_-]{86}$/;

/**
 * Read a rejected receipt from untrusted JSON: every field present, of its type and shape, the
 * reason one of REJECT_REASONS, no other field. Says nothing about the signature.
 * @returns the receipt, or undefined when it is not one
 */
export function parseRejectedReceipt(v: unknown): RejectedReceipt | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const keys = ['type', 'id', 'sender', 'participant', 'device', 'reason', 'hash', 'rejectedAt', 'kid', 'sig'];
  if (Object.keys(o).length !== keys.length || !keys.every((k) => k in o)) return undefined;
  const text = (x: unknown, re: RegExp): x is string => typeof x === 'string' && re.test(x);
  if (o.type !== 'rejected' || !text(o.id, ID_TEXT) || !text(o.sender, SLUG) || !text(o.participant, SLUG)
    || !text(o.device, SLUG) || !text(o.hash, HASH_TEXT) || !text(o.kid, KID_TEXT) || !text(o.sig, SIG_TEXT)) return undefined;
  if (typeof o.reason !== 'string' || !(REJECT_REASONS as readonly string[]).includes(o.reason)) return undefined;
  if (typeof o.rejectedAt !== 'number' || !Number.isSafeInteger(o.rejectedAt) || o.rejectedAt < 0) return undefined;
  return {
    type: 'rejected', id: o.id, sender: o.sender, participant: o.participant, device: o.device,
    reason: o.reason as RejectReason, hash: o.hash, rejectedAt: o.rejectedAt, kid: o.kid, sig: o.sig,
  };
}

/**
 * Is this receipt signed by `publicKey`, and does its kid name that key?
 * @param s - libsodium
 * @param r - a parsed receipt
 * @param publicKey - the rejecting device's Ed25519 signing key, from a directory
 */
export function verifyRejectedReceipt(s: Sodium, r: RejectedReceipt, publicKey: Uint8Array): boolean {
  const sig = fromBase64Url(r.sig);
  if (sig === undefined || r.kid !== toBase64Url(kidOf(s, publicKey))) return false;
  const { sig: _sig, ...body } = r;
  return ed25519Verify(s, sig, rejectedReceiptBytes(body), publicKey);
}
