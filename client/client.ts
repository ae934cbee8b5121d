/**
 * PasserelleClient: one participant's device. Key file, registration, send, receive (inbox pull;
 * ws follow lives in follow.ts), read receipts as ordinary E2E envelopes, key rotation and
 * safety numbers. Every decision about trust is made here, on the client, never by the gateway.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError, isGatewayError } from '../protocol/errors.js';
import type { DecryptionKey } from '../protocol/crypto/envelope-open.js';
import { SLUG } from '../protocol/crypto/envelope-types.js';
import { cryptoReady } from '../protocol/crypto/primitives.js';
import type { RejectedReceipt } from '../protocol/crypto/rejected-receipt.js';
import { signRegistration } from './device-cert.js';
import { DirectoryView } from './directory-view.js';
import { GatewayApi } from './gateway-api.js';
import { KeyFile } from './keyfile.js';
import { MessageStore, type StoredMessage } from './message-store.js';
import { inboxItems, parseDelivery, receive, type Delivery, type ReceiveOutcome } from './receive.js';
import { rejectDelivery, rejectReasonFor, rejectUndecodable } from './rejection.js';
import { sendEnvelope, type OutgoingFile, type Sent } from './send.js';
import { buildContent, sentRecord, type SendOptions } from './content.js';
import { buildVerification, type Verification } from './verification.js';

export type { Verification } from './verification.js';

/** How a delivery is answered: an ack once stored, or a signed rejection when refused. */
export interface DeliveryAnswer {
  ack(id: string): Promise<unknown>;
  reject(id: string, receipt: RejectedReceipt): Promise<unknown>;
}

/** Retired encryption keys are kept this long after a rotation (offline-delivery TTL), then deleted. */
export const RETIRED_KEY_TTL_MS = 30 * 24 * 3600 * 1000;

export type { SendOptions } from './content.js';

/** One participant's device, opened from its key file. */
export class PasserelleClient {
  readonly dir: string;
  readonly keys: KeyFile;
  readonly store: MessageStore;
  #api: GatewayApi | undefined;
  #view: DirectoryView | undefined;
  /** Send read receipts for messages received (business acks are never optional; this is the read one). */
  readReceipts = true;

  private constructor(dir: string, keys: KeyFile) {
    this.dir = dir;
    this.keys = keys;
    this.store = new MessageStore(dir, keys.secrets.storageKey);
  }

  /** Path of the key file inside a client directory. */
  static keyFilePath(dir: string): string {
    return join(dir, 'keys.json');
  }

  /**
   * Create a client directory with fresh keys.
   * @param options.xwing - also create an X-Wing key (hybrid post-quantum suite); default true
   * @param options.identityFrom - an opened client of the same participant whose identity key
   *   (and pins) this new device shares; then no admin step is needed, only `register`
   */
  static async init(options: { dir: string; participant: string; device: string; passphrase: string; xwing?: boolean; identityFrom?: PasserelleClient }): Promise<PasserelleClient> {
    const from = options.identityFrom;
    if (from && from.participant !== options.participant) throw new GatewayError('PSL_BAD_REQUEST', `--identity-from holds the keys of ${from.participant}, not ${options.participant}`);
    if (from && from.device === options.device) throw new GatewayError('PSL_BAD_REQUEST', 'device: choose an id different from the existing device');
    // Participant ids are the lower-case slugs of participants.yaml; device ids go into envelopes.
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(options.participant)) throw new GatewayError('PSL_BAD_REQUEST', 'participant: expected the lower-case id from participants.yaml (a-z, 0-9, -)');
    if (!SLUG.test(options.device)) throw new GatewayError('PSL_BAD_REQUEST', 'device: expected letters, digits, and . _ : - (at most 128)');
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    const keys = await KeyFile.create({
      path: PasserelleClient.keyFilePath(options.dir), participant: options.participant, device: options.device,
      passphrase: options.passphrase, ...(options.xwing !== undefined ? { xwing: options.xwing } : {}),
      ...(from ? { identity: from.keys.secrets.identity, pins: from.keys.secrets.pins } : {}),
    });
    return new PasserelleClient(options.dir, keys);
  }

  /** Open an existing client directory. */
  static async open(options: { dir: string; passphrase: string }): Promise<PasserelleClient> {
    return new PasserelleClient(options.dir, await KeyFile.open(PasserelleClient.keyFilePath(options.dir), options.passphrase));
  }

  get participant(): string {
    return this.keys.header.participant;
  }

  get device(): string {
    return this.keys.header.device;
  }

  /** The line the gateway admin pastes under this participant in participants.yaml. */
  get adminLine(): string {
    return `identityKey: ${this.keys.header.identityKey}`;
  }

  /**
   * Remember the gateway URL and token (the token is sealed in the key file; an `env:NAME`
   * reference is stored as the reference, and read from the environment each time).
   */
  async setGateway(url: string, token: string): Promise<void> {
    // A different gateway URL means new gateway keys to pin; the same one keeps its pins.
    const old = this.keys.secrets.gateway;
    const pins = old?.url === url ? { serviceKey: old.serviceKey, directoryKey: old.directoryKey, lastHeadSize: old.lastHeadSize } : {};
    const kept = Object.fromEntries(Object.entries(pins).filter(([, v]) => v !== undefined)) as { serviceKey?: string; directoryKey?: string; lastHeadSize?: number };
    this.keys.secrets.gateway = { url, ...(token.startsWith('env:') ? { tokenRef: token } : { token }), ...kept };
    this.#api = undefined;
    this.#view = undefined;
    await this.keys.save();
  }

  /** The gateway API, from the stored URL and token. */
  get api(): GatewayApi {
    if (this.#api) return this.#api;
    const gw = this.keys.secrets.gateway;
    if (!gw) throw new GatewayError('PSL_CONFIG_INVALID', 'no gateway configured: run `passerelle-client register --gateway <url> --token <token>`');
    const token = gw.tokenRef ? process.env[gw.tokenRef.slice(4)] : gw.token;
    if (!token) throw new GatewayError('PSL_AUTH_REQUIRED', `token reference ${gw.tokenRef ?? ''} is not set in the environment`);
    this.#api = new GatewayApi(gw.url, token, this.device);
    return this.#api;
  }

  /** The checked directory view. */
  get directory(): DirectoryView {
    this.#view ??= new DirectoryView({ api: this.api, secrets: this.keys.secrets, ownParticipant: this.participant });
    return this.#view;
  }

  /**
   * Publish this device's certificate (signed by the identity key) in the gateway directory. The
   * first registration also pins the gateway's service and directory keys (receipts are checked
   * against them from then on).
   */
  async register(now: number = Date.now()): Promise<{ notBefore: number; notAfter: number; response: Record<string, unknown> }> {
    const gw = this.keys.secrets.gateway;
    if (gw && gw.serviceKey === undefined) {
      const info = await this.api.messagingInfo();
      if (typeof info.serviceKey === 'string') gw.serviceKey = info.serviceKey;
      if (typeof info.directoryKey === 'string') gw.directoryKey = info.directoryKey;
    }
    const { body, cert } = await signRegistration(this.keys.secrets, { participant: this.participant, device: this.device }, now);
    const response = await this.api.registerDevice(body);
    this.keys.secrets.device.notBefore = cert.notBefore;
    this.keys.secrets.device.notAfter = cert.notAfter;
    await this.keys.save();
    return { notBefore: cert.notBefore, notAfter: cert.notAfter, response };
  }

  /**
   * New device keys, registered under a new certificate: encryption keys (the old ones are kept
   * for the offline TTL so mail already sealed to them still opens, then deleted on a later run)
   * and the signing key too, so each certificate has its own signing kid and a recipient can tell
   * which certificate (and validity window) an older envelope was signed under.
   */
  async rotate(now: number = Date.now()): Promise<{ notAfter: number }> {
    const s = await cryptoReady();
    const d = this.keys.secrets.device;
    d.sign = s.crypto_sign_keypair();
    this.keys.secrets.retired.push({ kind: 'x25519', ...d.x25519, deleteAfter: now + RETIRED_KEY_TTL_MS });
    if (d.xwing) this.keys.secrets.retired.push({ kind: 'xwing', ...d.xwing, deleteAfter: now + RETIRED_KEY_TTL_MS });
    d.x25519 = s.crypto_box_keypair();
    if (d.xwing) d.xwing = s.crypto_kem_xwing_keypair();
    // Keys on disk before the gateway hears of them: if registration then fails, `register`
    // publishes these same keys; the reverse order could publish keys we no longer hold.
    await this.keys.save();
    const r = await this.register(now);
    return { notAfter: r.notAfter };
  }

  /** Current and retired (unexpired) decryption keys; expired retired keys are dropped here. */
  decryptionKeys(now: number = Date.now()): DecryptionKey[] {
    const k = this.keys.secrets;
    k.retired = k.retired.filter((r) => r.deleteAfter > now);
    const cur: DecryptionKey[] = [{ kind: 'x25519', ...k.device.x25519 }];
    if (k.device.xwing) cur.push({ kind: 'xwing', ...k.device.xwing });
    return [...cur, ...k.retired.map((r) => ({ kind: r.kind, publicKey: r.publicKey, privateKey: r.privateKey }))];
  }

  /** Seal, upload attachments, submit; keeps a local copy of what was sent. */
  async send(o: SendOptions): Promise<Sent> {
    if (o.to.length === 0) throw new GatewayError('PSL_BAD_REQUEST', 'send: at least one recipient (--to)');
    if (o.text === undefined && o.fhir === undefined && (o.files ?? []).length === 0) throw new GatewayError('PSL_BAD_REQUEST', 'send: nothing to send (--text, --fhir or --file)');
    const own = await this.directory.peer(this.participant, true);
    const others = own.devices.filter((d) => d.deviceId !== this.device && d.revokedAt === undefined).length > 0;
    // Our other devices get an archive copy; this device keeps the plaintext it sealed.
    const recipients = (await this.directory.recipients([...o.to, ...(others ? [this.participant] : [])]))
      .filter((r) => !(r.participant === this.participant && r.device === this.device));
    const content = buildContent(o);
    const sent = await this.#send({ recipients, content, files: o.files ?? [] });
    await this.store.put(sentRecord({ sent, from: { participant: this.participant, device: this.device }, to: recipients.map((r) => r.participant), content }));
    await this.#savePins();
    return sent;
  }

  async #send(req: { recipients: Awaited<ReturnType<DirectoryView['recipients']>>; content: Record<string, unknown> & { type: string }; files: readonly OutgoingFile[]; class?: 'message' | 'receipt' }): Promise<Sent> {
    const d = this.keys.secrets.device;
    return sendEnvelope(this.api, {
      sender: { participant: this.participant, device: this.device, sign: d.sign }, recipients: req.recipients,
      content: req.content, files: req.files, class: req.class ?? 'message', tmpDir: join(this.dir, 'tmp'),
      serviceKey: this.keys.secrets.gateway?.serviceKey,
    });
  }

  /** The HTTP answers (inbox pull): `POST /v1/inbox/{id}/ack` and `/reject`. */
  get httpAnswer(): DeliveryAnswer {
    return { ack: (id) => this.api.ack(id), reject: (id, receipt) => this.api.reject(id, receipt) };
  }

  /** This device and its signing key, for the rejections it signs. */
  get signer(): { participant: string; device: string; sign: { publicKey: Uint8Array; privateKey: Uint8Array } } {
    return { participant: this.participant, device: this.device, sign: this.keys.secrets.device.sign };
  }

  /**
   * Handle one delivery: open and store (receive.ts), ack to the gateway, then emit a read
   * receipt for a stored incoming message and record receipts that arrive. A refused envelope is
   * answered with a rejection signed by this device instead of an ack: it is permanently bad, so
   * it must leave the queue, but its sender must not see it as delivered.
   * @param answer - how to ack or reject (HTTP by default; the ws follower sends frames)
   */
  async handle(d: Delivery, answer: DeliveryAnswer = this.httpAnswer): Promise<ReceiveOutcome> {
    const outcome = await receive({
      api: this.api, view: this.directory, store: this.store, participant: this.participant, device: this.device, keys: this.decryptionKeys(),
      serviceKey: this.keys.secrets.gateway?.serviceKey,
    }, d);
    if (outcome.kind === 'held') return outcome;
    const reason = outcome.kind === 'refused' ? rejectReasonFor(outcome.reason) : undefined;
    if (reason !== undefined) await answer.reject(d.ackId, await rejectDelivery(this.signer, d, reason));
    else await answer.ack(d.ackId);
    await this.#savePins();
    if (outcome.kind === 'refused' && reason !== undefined) return { ...outcome, rejected: reason };
    if (outcome.kind !== 'stored') return outcome;
    const m = outcome.message;
    try {
      if (m.class === 'receipt') await this.#recordReceipt(m);
      else if (m.direction === 'in' && this.readReceipts) await this.#sendReadReceipt(m);
    } catch (err) {
      // The message is stored and acked; a receipt that could not be sent is worth a warning only.
      return { ...outcome, warning: `read receipt not sent: ${(err as Error).message}` };
    }
    return outcome;
  }

  /**
   * Handle one inbox item or ws frame as the gateway sent it. An envelope that does not decode is
   * rejected as `malformed` (its id and sender taken from the gateway's accepted receipt in the
   * item) rather than left to come back forever.
   * @returns the outcome, or undefined when the item holds no envelope
   * @throws GatewayError PSL_ENVELOPE_MALFORMED when the envelope does not decode and the item
   *   names no envelope a rejection could refer to
   */
  async handleItem(item: unknown, answer: DeliveryAnswer = this.httpAnswer): Promise<ReceiveOutcome | undefined> {
    let d: Delivery | undefined;
    try {
      d = parseDelivery(item);
    } catch (err) {
      const o = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {};
      const receipt = isGatewayError(err) && err.code === 'PSL_ENVELOPE_MALFORMED' && typeof o.id === 'string'
        ? await rejectUndecodable(this.signer, o.accepted) : undefined;
      if (!receipt || typeof o.id !== 'string') throw err;
      await answer.reject(o.id, receipt);
      return { kind: 'refused', id: receipt.id, from: receipt.sender, reason: 'malformed', rejected: 'malformed' };
    }
    return d && this.handle(d, answer);
  }

  /** Pull the HTTP inbox page by page until it is empty, handling every delivery in order. */
  async pullInbox(): Promise<ReceiveOutcome[]> {
    const out: ReceiveOutcome[] = [];
    for (;;) {
      // Items are leased to us as they are listed, so a page never comes back twice.
      const page = inboxItems(await this.api.inbox());
      if (page.length === 0) return out;
      for (const item of page) {
        const outcome = await this.handleItem(item);
        if (outcome) out.push(outcome);
      }
    }
  }

  /**
   * Milliseconds until this device's certificate expires (negative once it has), or undefined
   * before the first registration. Senders stop encrypting to an expired device, so rotate first.
   */
  certificateTimeLeft(now: number = Date.now()): number | undefined {
    const end = this.keys.secrets.device.notAfter;
    return end === undefined ? undefined : end - now;
  }

  async #sendReadReceipt(m: StoredMessage): Promise<void> {
    const recipients = (await this.directory.recipients([m.from.participant]));
    await this.#send({ recipients, class: 'receipt', files: [], content: { type: 'receipt.read', ref: m.id, envelopeHash: m.envelopeHash, replyTo: m.id } });
  }

  async #recordReceipt(r: StoredMessage): Promise<void> {
    if (r.type !== 'receipt.read' || r.ref === undefined) return;
    const original = await this.store.get(r.ref);
    // Only a recipient of that very envelope (same hash: the copy it read is the copy we sent) counts.
    if (!original || original.direction !== 'out' || !original.to.includes(r.from.participant) || r.refHash !== original.envelopeHash) return;
    if (original.readBy?.some((x) => x.participant === r.from.participant && x.device === r.from.device)) return;
    original.readBy = [...(original.readBy ?? []), { participant: r.from.participant, device: r.from.device, at: r.ts }];
    await this.store.put(original);
  }

  /**
   * Note a verified rejection on the copy of the message we sent (nothing when we kept none).
   * @param r - a `rejected` receipt already checked with rejectionVerified
   */
  async recordRejection(r: RejectedReceipt): Promise<void> {
    const original = await this.store.get(r.id);
    if (!original || original.direction !== 'out' || original.from.participant !== r.sender) return;
    if (original.rejectedBy?.some((x) => x.participant === r.participant && x.device === r.device)) return;
    original.rejectedBy = [...(original.rejectedBy ?? []), { participant: r.participant, device: r.device, reason: r.reason, at: r.rejectedAt }];
    await this.store.put(original);
  }

  /** Safety number between us and a peer, plus key fingerprints (kids) for each device. */
  async verify(participant: string): Promise<Verification> {
    const peer = await this.directory.peer(participant, true);
    await this.#savePins();
    return buildVerification(this.keys.secrets.identity.publicKey, peer);
  }

  /** Record that a human compared safety numbers with `participant`. */
  async confirmPeer(participant: string): Promise<void> {
    const peer = await this.directory.peer(participant, true);
    this.directory.confirm(participant, peer.identityKey);
    await this.#savePins();
  }

  /** Drop the pin after a key change the user accepted (the new key is pinned on next lookup). */
  async acceptNewKey(participant: string): Promise<void> {
    this.directory.repin(participant);
    await this.directory.peer(participant, true);
    await this.#savePins();
  }

  async #savePins(): Promise<void> {
    if (this.#view?.pinsChanged) {
      this.#view.pinsChanged = false;
      await this.keys.save();
    }
  }
}
