/**
 * The ws relay protocol (JSON text frames).
 *
 * Server → device:
 *   {"type":"envelope","id":<deliveryId>,"accepted":<AcceptedReceipt>,"envelope":<WireEnvelope>}
 *   {"type":"accepted","ref":<client ref>,"receipt":<AcceptedReceipt>}   answer to a `send`
 *   {"type":"receipt","receipt":<DeliveredReceipt | RejectedReceipt>}    for the sender's envelopes
 *   {"type":"error","ref"?:…,"code":"PSL_…","reason":…}                   then, if fatal, a close code
 * Device → server:
 *   {"type":"ack","id":<deliveryId>}        after the device stored the envelope durably
 *   {"type":"reject","id":<deliveryId>,"receipt":<RejectedReceipt>}   the device refused the envelope
 *   {"type":"send","ref"?:<≤64 chars>,"envelope":<WireEnvelope>}
 */

/** Close codes: 1008 policy, 1009 too big (ws sends it itself past maxPayload), 4xxx ours. */
export const CLOSE = {
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
  /** The device was revoked while connected. */
  revoked: 4003,
  /** Frames that are not our JSON protocol. */
  protocol: 4400,
} as const;

/** A parsed device frame. */
export type ClientFrame =
  | { type: 'ack'; id: string }
  | { type: 'reject'; id: string; receipt: unknown }
  | { type: 'send'; ref?: string; envelope: unknown };

/**
 * Parse one text frame from a device.
 * @returns the frame, or undefined when it is not one of ours
 */
export function parseClientFrame(text: string): ClientFrame | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (o.type === 'ack' && typeof o.id === 'string' && o.id.length <= 256) return { type: 'ack', id: o.id };
  // The receipt's own shape and signature are the relay's to check (Relay.reject).
  if (o.type === 'reject' && typeof o.id === 'string' && o.id.length <= 256 && o.receipt !== undefined) return { type: 'reject', id: o.id, receipt: o.receipt };
  if (o.type === 'send' && typeof o.envelope === 'object' && o.envelope !== null
    && (o.ref === undefined || (typeof o.ref === 'string' && o.ref.length <= 64))) {
    return { type: 'send', envelope: o.envelope, ...(typeof o.ref === 'string' ? { ref: o.ref } : {}) };
  }
  return undefined;
}

/**
 * An error frame: registry code plus stable reason, never a value from the input.
 * @param e - code, reason and the client's ref when answering a `send`
 */
export function errorFrame(e: { code: string; reason: string; ref?: string }): string {
  return JSON.stringify({ type: 'error', ...(e.ref === undefined ? {} : { ref: e.ref }), code: e.code, reason: e.reason });
}
