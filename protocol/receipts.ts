/**
 * Gateway receipts (ENVELOPE.md §5). `accepted`: after durable storage, {id, receivedAt,
 * BLAKE2b-256(envelope)} signed by the gateway service key: evidence of submission and the
 * trusted receive time recipients judge revocation against. `delivered`: the recipient device
 * acknowledged; the gateway observed it and signs {id, device, deliveredAt} (it could lie; read
 * receipts are E2E envelopes instead).
 */
import { fromBase64Url, toBase64Url } from './crypto/base64url.js';
import { be64, pae } from './crypto/pae.js';
import { ed25519Sign, ed25519Verify } from './crypto/signature.js';
import type { Sodium } from './crypto/sodium.js';
import { isCount, isString } from './wire-checks.js';

/** Signed acceptance of one envelope. */
export interface AcceptedReceipt {
  type: 'accepted';
  /** base64url envelope id. */
  id: string;
  sender: string;
  receivedAt: number;
  /** base64url BLAKE2b-256 of the canonical envelope bytes. */
  hash: string;
  /** base64url kid of the service key. */
  kid: string;
  sig: string;
}

/** Signed observation that one recipient device acknowledged an envelope. */
export interface DeliveredReceipt {
  type: 'delivered';
  id: string;
  sender: string;
  participant: string;
  device: string;
  deliveredAt: number;
  kid: string;
  sig: string;
}

/** Either receipt. */
export type Receipt = AcceptedReceipt | DeliveredReceipt;

function signedBytes(r: Omit<AcceptedReceipt, 'sig'> | Omit<DeliveredReceipt, 'sig'>): Uint8Array {
  return r.type === 'accepted'
    ? pae(['passerelle/receipt/accepted/v1', r.id, r.sender, be64(r.receivedAt), r.hash, r.kid])
    : pae(['passerelle/receipt/delivered/v1', r.id, r.sender, r.participant, r.device, be64(r.deliveredAt), r.kid]);
}

/**
 * Sign a receipt with the service key.
 * @param s - libsodium
 * @param body - the receipt without its signature
 * @param secretKey - 64-byte service secret key
 */
export function signReceipt<R extends Receipt>(s: Sodium, body: Omit<R, 'sig'>, secretKey: Uint8Array): R {
  return { ...body, sig: toBase64Url(ed25519Sign(s, signedBytes(body as Omit<AcceptedReceipt, 'sig'> | Omit<DeliveredReceipt, 'sig'>), secretKey)) } as R;
}

/**
 * Check a receipt's signature (clients, auditors, tests).
 * @param s - libsodium
 * @param r - receipt
 * @param serviceKey - gateway service public key
 */
export function verifyReceipt(s: Sodium, r: Receipt, serviceKey: Uint8Array): boolean {
  const sig = fromBase64Url(r.sig);
  const { sig: _sig, ...body } = r;
  return sig !== undefined && ed25519Verify(s, sig, signedBytes(body as Omit<AcceptedReceipt, 'sig'> | Omit<DeliveredReceipt, 'sig'>), serviceKey);
}

/**
 * Structural decode of a receipt (untrusted JSON): the fields its type signs, with their types.
 * @returns the receipt, or undefined when a field is missing or of the wrong type
 */
export function receiptFromWire(v: unknown): Receipt | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (!isString(r.id) || !isString(r.sender) || !isString(r.kid) || !isString(r.sig)) return undefined;
  if (r.type === 'accepted' && isCount(r.receivedAt) && isString(r.hash)) {
    return { type: 'accepted', id: r.id, sender: r.sender, receivedAt: r.receivedAt, hash: r.hash, kid: r.kid, sig: r.sig };
  }
  if (r.type === 'delivered' && isString(r.participant) && isString(r.device) && isCount(r.deliveredAt)) {
    return { type: 'delivered', id: r.id, sender: r.sender, participant: r.participant, device: r.device, deliveredAt: r.deliveredAt, kid: r.kid, sig: r.sig };
  }
  return undefined;
}
