/**
 * The ws relay protocol (JSON text frames), both directions: the gateway's ws relay and the
 * client's `follow` build and parse them here.
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

/* Close codes come from the error registry (protocol/errors.ts wsCloseOf); ws itself closes with 1009 past maxPayload. */

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
  const o = jsonObject(text);
  if (!o) return undefined;
  if (o.type === 'ack' && typeof o.id === 'string' && o.id.length <= 256) return { type: 'ack', id: o.id };
  // The receipt's own shape and signature are the relay's to check (Relay.reject).
  if (o.type === 'reject' && typeof o.id === 'string' && o.id.length <= 256 && o.receipt !== undefined) return { type: 'reject', id: o.id, receipt: o.receipt };
  if (o.type === 'send' && typeof o.envelope === 'object' && o.envelope !== null
    && (o.ref === undefined || (typeof o.ref === 'string' && o.ref.length <= 64))) {
    return { type: 'send', envelope: o.envelope, ...(typeof o.ref === 'string' ? { ref: o.ref } : {}) };
  }
  return undefined;
}

/** `ack`: the device stored the delivery durably. */
export function ackFrame(deliveryId: string): string {
  return JSON.stringify({ type: 'ack', id: deliveryId });
}

/** `reject`: the device refuses the delivery with its signed `rejected` receipt. */
export function rejectFrame(deliveryId: string, receipt: unknown): string {
  return JSON.stringify({ type: 'reject', id: deliveryId, receipt });
}

/** A parsed gateway frame; receipts and envelopes are checked by whoever uses them. */
export type ServerFrame =
  | { type: 'envelope'; id: string; accepted: unknown; envelope: unknown }
  | { type: 'accepted'; ref?: string; receipt: unknown }
  | { type: 'receipt'; receipt: unknown }
  | { type: 'error'; ref?: string; code: string; reason: string };

/**
 * Parse one text frame from the gateway.
 * @returns the frame, or undefined when it is not one of ours
 */
export function parseServerFrame(text: string): ServerFrame | undefined {
  const o = jsonObject(text);
  if (!o) return undefined;
  const ref = typeof o.ref === 'string' ? { ref: o.ref } : {};
  if (o.type === 'envelope' && typeof o.id === 'string') return { type: 'envelope', id: o.id, accepted: o.accepted, envelope: o.envelope };
  if (o.type === 'accepted' && o.receipt !== undefined) return { type: 'accepted', ...ref, receipt: o.receipt };
  if (o.type === 'receipt' && o.receipt !== undefined) return { type: 'receipt', receipt: o.receipt };
  if (o.type === 'error' && typeof o.code === 'string' && typeof o.reason === 'string') return { type: 'error', ...ref, code: o.code, reason: o.reason };
  return undefined;
}

/**
 * `envelope`: one delivery, from JSON the store already holds (neither is parsed again).
 * @param deliveryId - what the device acks
 * @param acceptedJson - the stored `accepted` receipt
 * @param envelopeJson - the stored canonical envelope
 */
export function envelopeFrame(deliveryId: string, acceptedJson: string, envelopeJson: string): string {
  return `{"type":"envelope","id":${JSON.stringify(deliveryId)},"accepted":${acceptedJson},"envelope":${envelopeJson}}`;
}

/** `accepted`: the answer to a `send`. */
export function acceptedFrame(receipt: unknown, ref?: string): string {
  return JSON.stringify({ type: 'accepted', ...(ref === undefined ? {} : { ref }), receipt });
}

/** `receipt`: a delivered or rejected receipt, for the sender's devices. */
export function receiptFrame(receipt: unknown): string {
  return JSON.stringify({ type: 'receipt', receipt });
}

/**
 * An error frame: registry code plus stable reason, never a value from the input.
 * @param e - code, reason and the client's ref when answering a `send`
 */
export function errorFrame(e: { code: string; reason: string; ref?: string }): string {
  return JSON.stringify({ type: 'error', ...(e.ref === undefined ? {} : { ref: e.ref }), code: e.code, reason: e.reason });
}

/** A frame's JSON object, or undefined when the text is not JSON or not an object. */
function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
