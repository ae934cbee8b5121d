/**
 * The content of an outgoing message (inner plaintext fields, ENVELOPE.md §3) and the local copy
 * the sending device keeps. The business type is hidden from the gateway inside the payload and
 * derived from the FHIR body when the sender gives none.
 */
import type { OutgoingFile, Sent } from './send.js';
import type { StoredMessage } from './message-store.js';

/** What `send` takes from a person or a script. */
export interface SendOptions {
  readonly to: readonly string[];
  readonly text?: string;
  readonly subject?: string;
  /** A FHIR resource (parsed JSON) sent as the body. */
  readonly fhir?: Record<string, unknown>;
  readonly files?: readonly OutgoingFile[];
  /** Business type (hidden from the gateway); guessed from the body when absent. */
  readonly type?: string;
  readonly replyTo?: string;
  readonly thread?: string;
}

/**
 * Business type of a message without an explicit one.
 * @param fhir - the FHIR resource sent as body, if any
 * @returns `pa.request` / `claim.submit` for a Claim, `pa.decision` / `claim.response` for a
 * ClaimResponse, `fhir` for another resource, `text` without one
 */
export function guessType(fhir: Record<string, unknown> | undefined): string {
  if (!fhir) return 'text';
  if (fhir.resourceType === 'Claim') return fhir.use === 'preauthorization' ? 'pa.request' : 'claim.submit';
  if (fhir.resourceType === 'ClaimResponse') return fhir.use === 'preauthorization' ? 'pa.decision' : 'claim.response';
  return 'fhir';
}

/** Inner content fields for a send (seal adds id, ts, from, to and attachments). */
export interface OutgoingContent {
  readonly type: string;
  readonly subject?: string;
  readonly text?: string;
  readonly body?: { contentType: string; resource: Record<string, unknown> };
  readonly replyTo: string | null;
  readonly thread?: string;
  readonly [extra: string]: unknown;
}

/** Inner content from what the user asked to send. */
export function buildContent(o: SendOptions): OutgoingContent {
  return {
    type: o.type ?? guessType(o.fhir), ...(o.subject !== undefined ? { subject: o.subject } : {}),
    ...(o.text !== undefined ? { text: o.text } : {}),
    ...(o.fhir ? { body: { contentType: 'application/fhir+json', resource: o.fhir } } : {}),
    replyTo: o.replyTo ?? null, ...(o.thread !== undefined ? { thread: o.thread } : {}),
  };
}

/** The sending device's own record of a message it sealed (it keeps the plaintext, not a wrap). */
export function sentRecord(a: { sent: Sent; from: { participant: string; device: string }; to: readonly string[]; content: OutgoingContent }): StoredMessage {
  const { sent, content } = a;
  const receipt = sent.accepted.receipt as { receivedAt?: unknown } | undefined;
  return {
    id: sent.id, class: 'message', direction: 'out', from: a.from, to: [...new Set(a.to)].sort(), ts: sent.envelope.ts,
    receivedAt: typeof receipt?.receivedAt === 'number' ? receipt.receivedAt : sent.envelope.ts,
    type: content.type, ...(content.subject !== undefined ? { subject: content.subject } : {}),
    ...(content.text !== undefined ? { text: content.text } : {}), ...(content.body ? { body: content.body } : {}),
    attachments: sent.attachments.map((x) => ({ ref: x.ref, name: x.name, mime: x.mime })),
    replyTo: content.replyTo, ...(content.thread !== undefined ? { thread: content.thread } : {}),
    verified: true, senderTrust: 'confirmed', envelopeHash: sent.envelopeHash, gatewayReceipt: sent.acceptedVerified ? 'verified' : 'unverified',
  };
}
