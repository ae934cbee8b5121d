/**
 * Receiving one delivery, in ENVELOPE.md §3 order: openEnvelope checks suite, sender (through the
 * client's own checked directory view), signature, ts window, replay, wrap, commitment, payload
 * and inner/outer equality; then attachments are fetched and decrypted (TAG_FINAL, size and hash
 * enforced while streaming), and the message is stored durably. Acking and read receipts are the
 * caller's next steps, in that order.
 */
import { rmSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isGatewayError } from '../protocol/errors.js';
import { decryptAttachment } from '../protocol/crypto/attachments.js';
import { toBase64Url } from '../protocol/crypto/base64url.js';
import { decodeEnvelope, encodeEnvelope, fromWire } from '../protocol/crypto/envelope-codec.js';
import { openEnvelope, type DecryptionKey, type OpenedAttachment } from '../protocol/crypto/envelope-open.js';
import { SUITES, type Envelope } from '../protocol/crypto/envelope-types.js';
import type { OpenFailure } from '../protocol/crypto/envelope-verify.js';
import type { RejectReason } from '../protocol/crypto/rejected-receipt.js';
import { blake2b256, cryptoReady } from '../protocol/crypto/primitives.js';
import type { DirectoryView } from './directory-view.js';
import type { GatewayApi } from './gateway-api.js';
import { receiptValid } from './gateway-receipts.js';
import type { MessageStore, StoredAttachment, StoredMessage } from './message-store.js';

/** One envelope handed over by the gateway (inbox item or ws frame). */
export interface Delivery {
  /** What to ack with (the gateway's id for the item, else the envelope id). */
  readonly ackId: string;
  readonly envelope: Envelope;
  /** Gateway's receive time; sender validity and revocation are judged at it. */
  readonly receivedAt: number;
  /** The gateway's signed `accepted` receipt, when the delivery carried one. */
  readonly accepted?: unknown;
}

/**
 * What became of a delivery. `stored` and `duplicate` are acked; `refused` is answered with a
 * signed rejection (`rejected` names its reason code; a replay is acked instead); `held` is
 * neither (the sender's identity key changed: the envelope waits at the gateway until the user
 * decides).
 */
export type ReceiveOutcome =
  | { kind: 'stored'; message: StoredMessage; warning?: string }
  | { kind: 'duplicate'; id: string }
  | { kind: 'refused'; id: string; from: string; reason: OpenFailure | 'malformed'; rejected?: RejectReason }
  | { kind: 'held'; id: string; from: string; reason: 'identity-key-changed' };

/** Who is receiving. */
export interface ReceiveContext {
  readonly api: GatewayApi;
  readonly view: DirectoryView;
  readonly store: MessageStore;
  readonly participant: string;
  readonly device: string;
  /** Current and retired (still within TTL) decryption keys. */
  readonly keys: readonly DecryptionKey[];
  /** Pinned gateway service key (base64url) for the accepted receipt. */
  readonly serviceKey?: string | undefined;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);

/**
 * Read one inbox item or ws frame: `{ id?, envelope, receivedAt? | accepted: { receivedAt } }`,
 * the envelope as wire JSON or as its encoded text.
 * @throws GatewayError PSL_ENVELOPE_MALFORMED when the envelope does not decode
 */
export function parseDelivery(item: unknown): Delivery | undefined {
  const o = obj(item);
  if (!o) return undefined;
  const raw = o.envelope ?? (o.sig !== undefined ? o : undefined);
  if (raw === undefined) return undefined;
  const envelope = typeof raw === 'string' ? decodeEnvelope(raw) : fromWire(raw);
  const receipt = obj(o.accepted) ?? obj(o.receipt);
  const at = o.receivedAt ?? receipt?.receivedAt;
  return {
    envelope,
    ackId: typeof o.id === 'string' ? o.id : toBase64Url(envelope.id),
    // Without the gateway's time the local clock is the best available (later, so stricter on revocation).
    receivedAt: typeof at === 'number' ? at : Date.now(),
    ...(receipt ? { accepted: receipt } : {}),
  };
}

/** The raw items of an inbox answer (`{ items | messages | envelopes: [...] }` or a bare array). */
export function inboxItems(body: unknown): unknown[] {
  const o = obj(body);
  const list: unknown = Array.isArray(body) ? body : (o?.items ?? o?.messages ?? o?.envelopes ?? o?.inbox);
  return Array.isArray(list) ? list : [];
}

/**
 * Every delivery in an inbox answer.
 * @throws GatewayError PSL_ENVELOPE_MALFORMED when an envelope does not decode
 */
export function parseInbox(body: unknown): Delivery[] {
  return inboxItems(body).map(parseDelivery).filter((d): d is Delivery => d !== undefined);
}

/**
 * Open, fetch attachments, store.
 * @throws on transient trouble (gateway unreachable, disk): nothing is stored or acked, the
 * gateway keeps the envelope and delivers it again
 */
export async function receive(ctx: ReceiveContext, delivery: Delivery): Promise<ReceiveOutcome> {
  let d = delivery;
  const s = await cryptoReady();
  const env = d.envelope;
  const id = toBase64Url(env.id);
  if (await ctx.store.has(id)) return { kind: 'duplicate', id };
  const envelopeHash = toBase64Url(blake2b256(s, encodeEnvelope(env)));
  // The receive time counts only if the gateway signed it for this very envelope; else use our clock.
  const receiptOk = await receiptValid(d.accepted, ctx.serviceKey, { id, hash: envelopeHash });
  if (!receiptOk) d = { ...d, receivedAt: Math.max(d.receivedAt, Date.now()) };
  let opened;
  try {
    opened = await openEnvelope(env, {
      suites: [SUITES.classic, SUITES.hybrid], receivedAt: d.receivedAt, senderLookup: ctx.view.senderLookup, replay: ctx.store,
      recipient: { participant: ctx.participant, device: ctx.device, keys: ctx.keys },
    });
  } catch (err) {
    // The directory view refuses a changed identity key before any replay entry is made.
    if (isGatewayError(err) && err.code === 'PSL_FORBIDDEN') return { kind: 'held', id, from: env.from.participant, reason: 'identity-key-changed' };
    throw err;
  }
  if (!opened.ok) {
    // Forget the id openEnvelope remembered (commit, payload, … come after that step): if our
    // rejection does not reach the gateway, the re-delivery must be judged again, not as a replay.
    if (opened.reason !== 'replay') await ctx.store.release(env.from.participant, id);
    return { kind: 'refused', id, from: env.from.participant, reason: opened.reason };
  }
  try {
    const inner = opened.inner;
    const peer = await ctx.view.peer(env.from.participant);
    const own = env.from.participant === ctx.participant;
    const attachments: StoredAttachment[] = [];
    const names = new Set<string>();
    for (const a of opened.attachments) {
      // Two attachments may carry the same name: number the later ones rather than overwrite.
      let name = safeName(a.name);
      if (names.has(name)) name = `${names.size + 1}-${name}`;
      names.add(name);
      attachments.push(await fetchAttachment(ctx, id, a, name));
    }
    const message: StoredMessage = {
      id, class: env.class, direction: own ? 'out' : 'in', from: { ...inner.from }, to: [...inner.to], ts: env.ts, receivedAt: d.receivedAt,
      type: inner.type, ...(typeof inner.subject === 'string' ? { subject: inner.subject } : {}),
      ...(typeof inner.text === 'string' ? { text: inner.text } : {}),
      ...(inner.body !== undefined ? { body: inner.body } : {}),
      attachments, ...(inner.replyTo !== undefined ? { replyTo: inner.replyTo } : {}),
      ...(typeof inner.thread === 'string' ? { thread: inner.thread } : {}),
      verified: true, senderTrust: peer.trust, envelopeHash, gatewayReceipt: receiptOk ? 'verified' : 'unverified',
      ...(typeof inner.ref === 'string' ? { ref: inner.ref } : {}),
      ...(typeof inner.envelopeHash === 'string' ? { refHash: inner.envelopeHash } : {}),
    };
    await ctx.store.put(message);
    return { kind: 'stored', message };
  } catch (err) {
    await ctx.store.release(env.from.participant, id);
    throw err;
  }
}

async function fetchAttachment(ctx: ReceiveContext, id: string, a: OpenedAttachment, fileName: string): Promise<StoredAttachment> {
  const base = { ref: a.ref, name: a.name, mime: a.mime };
  const target = join(ctx.store.filesDir(id), fileName);
  const tmp = `${target}.part`;
  let blob: AsyncIterable<Uint8Array>;
  try {
    blob = await ctx.api.downloadBlob(a.ref);
  } catch (err) {
    // Gone or not readable by us: retrying will not bring it back; keep the message, say so.
    if (isGatewayError(err) && (err.code === 'PSL_NOT_FOUND' || err.code === 'PSL_FORBIDDEN')) return { ...base, error: `not available at the gateway (${err.code})` };
    throw err;
  }
  const out = await open(tmp, 'w', 0o600);
  let bytes = 0;
  try {
    // Output is provisional until the iterator ends (TAG_FINAL, size and hash are checked last).
    for await (const chunk of decryptAttachment(a, blob)) {
      bytes += chunk.length;
      await out.write(chunk);
    }
    await out.sync();
  } catch (err) {
    await out.close();
    rmSync(tmp, { force: true });
    // A blob that fails its checks is permanent: keep the message, say the attachment is bad.
    if (isGatewayError(err) && err.code === 'PSL_ENVELOPE_MALFORMED') return { ...base, error: err.message };
    throw err;
  }
  await out.close();
  await rename(tmp, target);
  return { ...base, bytes, savedAs: target };
}

/** A sender-chosen name made safe as a file name: no path, no control characters, no dot files. */
export function safeName(name: string): string {
  const cleaned = basename(name.replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f<>:"|?*]/g, '_').replace(/^\.+/, '_').slice(0, 120);
  return cleaned === '' ? 'attachment' : cleaned;
}
