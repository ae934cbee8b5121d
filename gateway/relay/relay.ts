/**
 * The relay core, transport-free: accept an envelope (verify, authorise, store durably, queue per
 * recipient device, sign `accepted`), hand queued envelopes to devices under a lease, and turn
 * device acknowledgements into signed `delivered` receipts. HTTP routes and the ws server are thin
 * adapters over it. Nothing here can read an envelope's content: it routes on the outer header.
 */
import { EventEmitter } from 'node:events';
import type { ErrorCode } from '../../protocol/errors.js';
import { isGatewayError } from '../../protocol/errors.js';
import type { Store } from '../core/ports.js';
import type { AuditEvent, Lease } from '../core/types.js';
import { fromBase64Url, toBase64Url } from '../../protocol/crypto/base64url.js';
import { decodeEnvelope, encodeEnvelope } from '../../protocol/crypto/envelope-codec.js';
import { DEFAULT_TTL_MS } from '../../protocol/crypto/envelope-core.js';
import type { Envelope, Suite } from '../../protocol/crypto/envelope-types.js';
import { verifyOuter, type OpenFailure } from '../../protocol/crypto/envelope-verify.js';
import { blake2b256, cryptoReady } from '../../protocol/crypto/primitives.js';
import { parseRejectedReceipt, verifyRejectedReceipt, type RejectedReceipt } from '../../protocol/crypto/rejected-receipt.js';
import type { Sodium } from '../../protocol/crypto/sodium.js';
import type { Directory } from '../directory/directory.js';
import type { GatewayKey } from '../directory/gateway-keys.js';
import type { Logger } from '../log.js';
import type { BlobStore } from './blobs.js';
import type { MessagingPolicy } from './policy.js';
import type { SenderQuota } from './quota.js';
import { signReceipt, type AcceptedReceipt, type DeliveredReceipt } from '../../protocol/receipts.js';
import { envelopeFrame } from '../../protocol/ws-frames.js';
import type { RelayStore } from '../core/relay-store.js';

/** A refusal with what every transport needs to say it: registry code (status, close code), stable reason. */
export interface Refusal {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly reason: RelayRefusal;
  readonly retryAfterMs?: number;
}

/** Stable refusal reasons (envelope checks from the crypto module plus the relay's own). */
export type RelayRefusal = OpenFailure | 'malformed' | 'ttl' | 'too-big' | 'sender-mismatch' | 'recipient-unknown' | 'policy'
  | 'attachment' | 'quota' | 'device-unknown' | 'device-revoked' | 'not-in-flight' | 'lease-lost' | 'not-found'
  | 'receipt-mismatch' | 'receipt-signature';

/** Outcome of a submission. */
export type AcceptOutcome = { ok: true; receipt: AcceptedReceipt; replay: boolean } | Refusal;

/** One queued envelope handed to a device: the delivery id to ack, and the frame text. */
export interface Delivery {
  readonly id: string;
  /** `{"type":"envelope","id":…,"accepted":{…},"envelope":{…}}`, built without re-parsing the envelope. */
  readonly frame: string;
}

/** Everything the relay works with. */
export interface RelayOptions {
  store: Store;
  relayStore: RelayStore;
  directory: Directory;
  blobs: BlobStore;
  policy: MessagingPolicy;
  quota: SenderQuota;
  serviceKey: GatewayKey;
  suites: readonly Suite[];
  limits: { maxEnvelopeBytes: number; leaseMs: number };
  log: Logger;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();
const SKEW_MS = 5 * 60 * 1000;

const refuse = (code: ErrorCode, reason: RelayRefusal, retryAfterMs?: number): Refusal =>
  ({ ok: false, code, reason, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });

// Registry codes: an authentic-looking envelope the gateway will not take is PSL_ENVELOPE_REJECTED
// (422); the reason says which check failed.
const OUTER_CODE: Record<OpenFailure, ErrorCode> = {
  'suite': 'PSL_ENVELOPE_REJECTED', 'expired': 'PSL_ENVELOPE_REJECTED', 'future': 'PSL_ENVELOPE_REJECTED',
  'sender-unknown': 'PSL_ENVELOPE_REJECTED', 'sender-revoked': 'PSL_ENVELOPE_REJECTED', 'sender-expired': 'PSL_ENVELOPE_REJECTED',
  'signature': 'PSL_ENVELOPE_REJECTED', 'replay': 'PSL_ENVELOPE_REPLAY', 'not-a-recipient': 'PSL_ENVELOPE_REJECTED',
  'wrap': 'PSL_ENVELOPE_REJECTED', 'commit': 'PSL_ENVELOPE_REJECTED', 'payload': 'PSL_ENVELOPE_REJECTED',
  'inner-mismatch': 'PSL_ENVELOPE_REJECTED', 'attachment': 'PSL_ATTACHMENT_INVALID',
};

/** Queue of one recipient device. */
export function deviceQueue(participant: string, device: string): string {
  return `dev:${participant}:${device}`;
}

/** The relay core. Events: `enqueued` (queue name), `delivered` (DeliveredReceipt), `rejected` (RejectedReceipt). */
export class Relay extends EventEmitter<{ enqueued: [string]; delivered: [DeliveredReceipt]; rejected: [RejectedReceipt] }> {
  readonly #o: RelayOptions;
  readonly #s: Sodium;
  /** Leases this process holds, by `queue|deliveryId`, so an ack finds its lease. */
  readonly #inflight = new Map<string, Lease>();

  private constructor(s: Sodium, options: RelayOptions) {
    super();
    this.#s = s;
    this.#o = options;
  }

  /** @param options - stores, directory, policy, quota, keys, limits */
  static async create(options: RelayOptions): Promise<Relay> {
    return new Relay(await cryptoReady(), options);
  }

  /** Service public key (for clients verifying receipts). */
  get serviceKey(): Uint8Array {
    return this.#o.serviceKey.publicKey;
  }

  /**
   * Submit an envelope. Answers `accepted` only after the envelope, every per-device queue entry,
   * the receipt and the audit entry are durable; a replay of the same envelope gets the same
   * receipt, once its queue entries are durable too.
   * @param sender - authenticated participant
   * @param bytes - the envelope JSON as received
   */
  async accept(sender: string, bytes: Uint8Array): Promise<AcceptOutcome> {
    const o = this.#o;
    if (bytes.length > o.limits.maxEnvelopeBytes) return refuse('PSL_PAYLOAD_TOO_LARGE', 'too-big');
    let env: Envelope;
    try {
      env = decodeEnvelope(bytes);
    } catch (err) {
      if (isGatewayError(err)) return refuse('PSL_ENVELOPE_MALFORMED', 'malformed');
      throw err;
    }
    if (env.from.participant !== sender) return refuse('PSL_FORBIDDEN', 'sender-mismatch');
    // verifyOuter bounds ts, not expires: without this a sender could make the gateway keep an
    // envelope (and its receipt) for decades.
    if (env.expires - env.ts > DEFAULT_TTL_MS) return refuse('PSL_ENVELOPE_REJECTED', 'ttl');
    const id = toBase64Url(env.id);
    const canonical = encodeEnvelope(env);
    const hash = toBase64Url(blake2b256(this.#s, canonical));
    const known = await o.relayStore.get(receiptKey(sender, id));
    if (known) return this.#replay(id, hash, known);
    const wait = o.quota.take(sender, bytes.length);
    if (wait > 0) return refuse('PSL_QUOTA_EXCEEDED', 'quota', wait);

    await o.directory.refresh();
    const receivedAt = Date.now();
    const outer = await verifyOuter(env, o.directory.senderLookup, { suites: o.suites, receivedAt, now: receivedAt });
    if (!outer.ok) {
      return refuse(OUTER_CODE[outer.reason], outer.reason);
    }
    for (const r of env.to) {
      if (!o.directory.recipientValid(r, env.suite, receivedAt)) return refuse('PSL_ENVELOPE_REJECTED', 'recipient-unknown');
    }
    const participants = [...new Set(env.to.map((r) => r.participant))];
    if (!participants.every((p) => o.policy.allows(sender, p))) return refuse('PSL_FORBIDDEN', 'policy');
    for (const a of env.attachments) {
      if (!(await o.blobs.matches(sender, a))) return refuse('PSL_ATTACHMENT_INVALID', 'attachment');
    }

    return this.#persist(env, { sender, id, canonical, hash, receivedAt, participants });
  }

  /**
   * One commit (RelayStore.acceptEnvelope): the receipt, the envelope, its blob grants, one queue
   * entry per recipient device and the audit entry are durable together, then the answer. A
   * stored receipt therefore always has its queue entries, and a retry needs only the receipt.
   */
  async #persist(env: Envelope, a: { sender: string; id: string; canonical: Uint8Array; hash: string; receivedAt: number; participants: string[] }): Promise<AcceptOutcome> {
    const o = this.#o;
    const { sender, id, canonical, hash, receivedAt, participants } = a;
    const keepUntil = env.expires + SKEW_MS;
    const fresh = signReceipt<AcceptedReceipt>(this.#s, {
      type: 'accepted', id, sender, receivedAt, hash, kid: toBase64Url(o.serviceKey.kid),
    }, o.serviceKey.secretKey);
    const grants = await o.blobs.grantWrites(env.attachments.map((x) => x.ref), participants, keepUntil);
    const deliveryId = `${sender}:${id}`;
    const raced = await o.relayStore.acceptEnvelope({
      receipt: { key: receiptKey(sender, id), value: utf8.encode(JSON.stringify(fresh)), expiresAt: keepUntil },
      values: [{ key: envelopeKey(sender, id), value: canonical, expiresAt: keepUntil }, ...grants],
      deliveries: env.to.map((r) => ({
        queue: deviceQueue(r.participant, r.device), item: { id: deliveryId, payload: { s: sender, e: id, x: env.expires, n: env.to.length } },
      })),
      audit: { action: 'message.accepted', actor: sender, subject: id, detail: { recipients: env.to.length, bytes: canonical.length } },
    });
    // An identical submission racing this one got there first: answer as its replay.
    if (raced) return this.#replay(id, hash, raced);
    for (const r of env.to) this.emit('enqueued', deviceQueue(r.participant, r.device));
    o.log.debug({ envId: id, bytes: canonical.length, recipients: env.to.length, replay: false }, 'envelope accepted');
    return { ok: true, receipt: fresh, replay: false };
  }

  /** A submission whose receipt is stored: the same bytes get that receipt (their queue entries committed with it). */
  #replay(id: string, hash: string, stored: Uint8Array): AcceptOutcome {
    const receipt = JSON.parse(utf8d.decode(stored)) as AcceptedReceipt;
    // Same id, other bytes: not a retry but a second message reusing an id.
    if (receipt.hash !== hash) return refuse('PSL_ENVELOPE_REPLAY', 'replay');
    this.#o.log.debug({ envId: id, replay: true }, 'envelope accepted');
    return { ok: true, receipt, replay: true };
  }

  /** Can this participant receive as this device right now? */
  deviceCheck(participant: string, device: string): Refusal | undefined {
    const dev = this.#o.directory.device(participant, device);
    if (!dev) return refuse('PSL_NOT_FOUND', 'device-unknown');
    if (dev.revokedAt !== undefined) return refuse('PSL_FORBIDDEN', 'device-revoked');
    return undefined;
  }

  /**
   * Lease the next queued envelope for a device (expired or vanished ones are dropped on the way).
   * @returns the delivery, or undefined when the queue has nothing ready
   */
  async claimNext(participant: string, device: string): Promise<Delivery | undefined> {
    const queue = deviceQueue(participant, device);
    for (;;) {
      const lease = await this.#o.store.claim(queue, this.#o.limits.leaseMs);
      if (!lease) return undefined;
      const { s: sender, e: id } = lease.item.payload as { s: string; e: string };
      if (Number(lease.item.payload.x) < Date.now()) {
        await this.#o.store.complete(lease).catch(() => undefined);
        continue;
      }
      const [env, rcpt] = await Promise.all([
        this.#o.relayStore.get(envelopeKey(sender, id)), this.#o.relayStore.get(receiptKey(sender, id)),
      ]);
      if (!env || !rcpt) {
        // Entries are queued only once their envelope and receipt are durable (#persist), so a
        // missing one is gone for good (deleted after the last ack): drop the entry.
        await this.#o.store.complete(lease).catch(() => undefined);
        continue;
      }
      this.#inflight.set(`${queue}|${lease.item.id}`, lease);
      return {
        id: lease.item.id,
        frame: envelopeFrame(lease.item.id, utf8d.decode(rcpt), utf8d.decode(env)),
      };
    }
  }

  /**
   * A device acknowledges a delivery (after its own durable store): complete the lease, sign and
   * keep a `delivered` receipt, tell the sender.
   * @param participant - authenticated participant
   * @param device - its device
   * @param deliveryId - id from the delivery
   */
  async ack(participant: string, device: string, deliveryId: string): Promise<{ ok: true; receipt: DeliveredReceipt } | Refusal> {
    const queue = deviceQueue(participant, device);
    const lease = this.#inflight.get(`${queue}|${deliveryId}`);
    if (!lease) return refuse('PSL_NOT_FOUND', 'not-in-flight');
    this.#inflight.delete(`${queue}|${deliveryId}`);
    const { s: sender, e: id } = lease.item.payload as { s: string; e: string };
    const receipt = signReceipt<DeliveredReceipt>(this.#s, {
      type: 'delivered', id, sender, participant, device, deliveredAt: Date.now(), kid: toBase64Url(this.#o.serviceKey.kid),
    }, this.#o.serviceKey.secretKey);
    // ENVELOPE.md §6: the envelope is deleted after the last recipient's ack; receipts stay for dedup.
    const lost = await this.#settle(lease, receipt, { action: 'message.delivered', actor: participant, subject: id, detail: { device } });
    if (lost) return lost;
    this.#o.log.debug({ envId: id, device }, 'envelope delivered');
    this.emit('delivered', receipt);
    return { ok: true, receipt };
  }

  /**
   * A device refuses a delivery with its signed `rejected` receipt (its own key, over
   * rejected-receipt.ts's bytes). Checked before anything changes: the receipt must name this
   * device and this very delivery, and verify against the device's signing key in the directory.
   * Then, as for an ack: the lease is completed (never redelivered), the receipt is kept where the
   * sender reads its envelope's outcomes, and the sender is told.
   * @param participant - authenticated participant
   * @param device - its device
   * @param deliveryId - id from the delivery
   * @param body - the receipt as received (untrusted JSON)
   */
  async reject(participant: string, device: string, deliveryId: string, body: unknown): Promise<{ ok: true; receipt: RejectedReceipt } | Refusal> {
    const receipt = parseRejectedReceipt(body);
    if (!receipt) return refuse('PSL_BAD_REQUEST', 'malformed');
    const queue = deviceQueue(participant, device);
    const lease = this.#inflight.get(`${queue}|${deliveryId}`);
    if (!lease) return refuse('PSL_NOT_FOUND', 'not-in-flight');
    const { s: sender, e: id } = lease.item.payload as { s: string; e: string };
    if (receipt.participant !== participant || receipt.device !== device || receipt.sender !== sender || receipt.id !== id) {
      return refuse('PSL_FORBIDDEN', 'receipt-mismatch');
    }
    // A rotation since the delivery is fine: any certificate of this device with that signing kid.
    await this.#o.directory.refresh();
    const kid = fromBase64Url(receipt.kid);
    const key = kid ? this.#o.directory.senderLookup({ participant, device, kid }) : undefined;
    if (key?.revokedAt != null) return refuse('PSL_FORBIDDEN', 'device-revoked');
    if (!key || !verifyRejectedReceipt(this.#s, receipt, key.sigKey)) return refuse('PSL_FORBIDDEN', 'receipt-signature');
    // The in-flight check above may have raced an ack of the same delivery: only one removes it.
    if (!this.#inflight.delete(`${queue}|${deliveryId}`)) return refuse('PSL_NOT_FOUND', 'not-in-flight');
    // Once every recipient device has answered (delivered or rejected), nobody needs the ciphertext.
    const lost = await this.#settle(lease, receipt, { action: 'message.rejected', actor: participant, subject: id, detail: { device, reason: receipt.reason } });
    if (lost) return lost;
    this.#o.log.info({ envId: id, device, code: receipt.reason }, 'envelope rejected by recipient');
    this.emit('rejected', receipt);
    return { ok: true, receipt };
  }

  /**
   * One commit (RelayStore.settleDelivery): the lease completed, the device's outcome kept where
   * the sender reads it, the audit entry, and the envelope deleted after its last device.
   * @returns a refusal when the lease was lost meanwhile (nothing written), else undefined
   */
  async #settle(lease: Lease, outcome: DeliveredReceipt | RejectedReceipt, audit: AuditEvent): Promise<Refusal | undefined> {
    const { s: sender, e: id } = lease.item.payload as { s: string; e: string };
    try {
      await this.#o.relayStore.settleDelivery(lease, {
        outcome: { key: deliveredKey(sender, id), value: utf8.encode(JSON.stringify(outcome)), expiresAt: Number(lease.item.payload.x) + SKEW_MS },
        audit,
        drop: { key: envelopeKey(sender, id), count: Number(lease.item.payload.n) },
      });
      return undefined;
    } catch (err) {
      if (isGatewayError(err) && err.code === 'PSL_LEASE_LOST') return refuse('PSL_LEASE_LOST', 'lease-lost');
      throw err;
    }
  }

  /**
   * Give a leased delivery back (connection lost before the ack): ready again at once.
   * @param deliveryId - id from the delivery
   */
  async release(participant: string, device: string, deliveryId: string): Promise<void> {
    const k = `${deviceQueue(participant, device)}|${deliveryId}`;
    const lease = this.#inflight.get(k);
    if (!lease) return;
    this.#inflight.delete(k);
    await this.#o.store.fail(lease, { retryAt: Date.now(), reason: 'released' }).catch(() => undefined);
  }

  /**
   * Receipts of one envelope, for its sender only.
   * @param sender - authenticated participant
   * @param id - base64url envelope id
   */
  async receipts(sender: string, id: string): Promise<{ accepted: AcceptedReceipt; delivered: DeliveredReceipt[]; rejected: RejectedReceipt[] } | undefined> {
    const rcpt = await this.#o.relayStore.get(receiptKey(sender, id));
    if (!rcpt) return undefined;
    // One list per envelope holds each device's outcome: the gateway's `delivered` or the device's `rejected`.
    const outcomes = (await this.#o.relayStore.listRead(deliveredKey(sender, id))).map((b) => JSON.parse(utf8d.decode(b)) as DeliveredReceipt | RejectedReceipt);
    return {
      accepted: JSON.parse(utf8d.decode(rcpt)) as AcceptedReceipt,
      delivered: outcomes.filter((r): r is DeliveredReceipt => r.type === 'delivered'),
      rejected: outcomes.filter((r): r is RejectedReceipt => r.type === 'rejected'),
    };
  }
}

function envelopeKey(sender: string, id: string): string {
  return `env:${sender}:${id}`;
}
function receiptKey(sender: string, id: string): string {
  return `rcpt:${sender}:${id}`;
}
function deliveredKey(sender: string, id: string): string {
  return `dlv:${sender}:${id}`;
}
