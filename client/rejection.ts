/**
 * Rejected receipts on the client, both ways. As a recipient: a refused envelope is answered with
 * a `rejected` receipt signed by this device's signing key (protocol/crypto/rejected-receipt.ts
 * defines the bytes), never with an ack, so its sender does not see it as delivered. As a sender:
 * a rejection of one of our envelopes is checked against the rejecting device's certificates in
 * our own checked directory view, not on the gateway's word.
 */
import { toBase64Url } from '../protocol/crypto/base64url.js';
import { encodeEnvelope } from '../protocol/crypto/envelope-codec.js';
import type { OpenFailure } from '../protocol/crypto/envelope-verify.js';
import { blake2b256, cryptoReady } from '../protocol/crypto/primitives.js';
import {
  parseRejectedReceipt, REJECT_REASON_OF, signRejectedReceipt, verifyRejectedReceipt, type RejectedReceipt, type RejectReason,
} from '../protocol/crypto/rejected-receipt.js';
import type { DirectoryView, Peer } from './directory-view.js';
import type { Delivery } from './receive.js';

/** The device that signs: who it is and its signing key pair. */
export interface RejectingDevice {
  readonly participant: string;
  readonly device: string;
  readonly sign: { publicKey: Uint8Array; privateKey: Uint8Array };
}

/**
 * The reason code for an openEnvelope refusal, or undefined when the envelope is not to be
 * rejected (a replay: this device already took that id, its first outcome stands).
 */
export function rejectReasonFor(failure: OpenFailure | 'malformed'): RejectReason | undefined {
  if (failure === 'malformed') return 'malformed';
  return failure === 'replay' ? undefined : REJECT_REASON_OF[failure];
}

/**
 * Sign the rejection of a decoded delivery.
 * @param by - this device and its signing key
 * @param d - the delivery as received
 * @param reason - reason code
 */
export async function rejectDelivery(by: RejectingDevice, d: Delivery, reason: RejectReason): Promise<RejectedReceipt> {
  const s = await cryptoReady();
  return signRejectedReceipt(s, {
    type: 'rejected', id: toBase64Url(d.envelope.id), sender: d.envelope.from.participant, participant: by.participant, device: by.device,
    reason, hash: toBase64Url(blake2b256(s, encodeEnvelope(d.envelope))), rejectedAt: Date.now(),
  }, by.sign);
}

/**
 * Sign the rejection of a delivery whose envelope does not decode. Its id and sender come from
 * the gateway's `accepted` receipt in the same frame; without one there is nothing to name.
 * @param by - this device and its signing key
 * @param accepted - the frame's `accepted` field, untrusted
 */
export async function rejectUndecodable(by: RejectingDevice, accepted: unknown): Promise<RejectedReceipt | undefined> {
  const a = typeof accepted === 'object' && accepted !== null ? (accepted as Record<string, unknown>) : {};
  if (typeof a.id !== 'string' || typeof a.sender !== 'string') return undefined;
  const s = await cryptoReady();
  const receipt = signRejectedReceipt(s, {
    type: 'rejected', id: a.id, sender: a.sender, participant: by.participant, device: by.device, reason: 'malformed', hash: '', rejectedAt: Date.now(),
  }, by.sign);
  // Ids the gateway sent that no receipt can carry are not worth a refusal round trip.
  return parseRejectedReceipt(receipt) ? receipt : undefined;
}

/**
 * Is this a rejection of our envelope, signed by a certificate of the device it names, as our
 * checked directory view has that device?
 * @param view - our directory view (pinned identity keys, proven entries)
 * @param r - the receipt as the gateway forwarded it (untrusted)
 * @param sender - our participant id
 */
export async function rejectionVerified(view: DirectoryView, r: unknown, sender: string): Promise<boolean> {
  const receipt = parseRejectedReceipt(r);
  if (!receipt || receipt.sender !== sender) return false;
  const s = await cryptoReady();
  try {
    const signedBy = (peer: Peer): boolean => peer.devices.find((d) => d.deviceId === receipt.device)?.certs
      .some((c) => verifyRejectedReceipt(s, receipt, c.sigKey)) ?? false;
    // A device registered or rotated after our cached copy: look once more before saying no.
    return signedBy(await view.peer(receipt.participant)) || signedBy(await view.peer(receipt.participant, true));
  } catch {
    // A peer we cannot look up (or whose identity key changed) cannot vouch for anything.
    return false;
  }
}
