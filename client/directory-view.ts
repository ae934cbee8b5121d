/**
 * The client's view of the key directory. The gateway serves the certificates; the client trusts
 * none of it blindly:
 *   - a participant's identity key is pinned on first use (kept in the sealed key file) and a
 *     later change is refused with a "key changed" error until the user re-verifies, as Signal
 *     and WhatsApp do; the safety number (`verify`) is how a human confirms the pin;
 *   - every device certificate is checked here against the pinned identity key.
 *   - with the directory key pinned at registration, the identity entry, every device entry (earlier
 *     certificates in `history` included) and every revoke entry must be proven in the log head
 *     that key signed (directory-proof.ts), the head must be fresh (24 h) and never smaller than
 *     one seen before.
 */
import { GatewayError, isGatewayError } from '../protocol/errors.js';
import { fromBase64Url, toBase64Url } from '../protocol/crypto/base64url.js';
import type { SealRecipient } from '../protocol/crypto/envelope-seal.js';
import type { SenderDevice } from '../protocol/crypto/envelope-verify.js';
import { kidOf } from '../protocol/crypto/keys.js';
import { cryptoReady, equalBytes } from '../protocol/crypto/primitives.js';
import type { DeviceCert } from '../protocol/device-cert.js';
import { checkPeerCert } from './device-cert.js';
import { checkHead, entryIncluded, type CheckedHead } from './directory-proof.js';
import type { GatewayApi } from './gateway-api.js';
import type { KeySecrets } from './key-secrets.js';

/** One device of a peer, with its certificates (current first) and revocation time. */
export interface PeerDevice {
  readonly deviceId: string;
  readonly certs: readonly DeviceCert[];
  readonly revokedAt?: number | undefined;
}

/** A participant as the client sees it. */
export interface Peer {
  readonly participant: string;
  readonly identityKey: Uint8Array;
  /** `new`: pinned just now; `known`: matches the pin; `confirmed`: a human compared safety numbers. */
  readonly trust: 'new' | 'known' | 'confirmed';
  readonly devices: readonly PeerDevice[];
  /** Certificates the directory listed but that failed our checks (count only). */
  readonly rejected: number;
  /** Identity and device entries were proven to be in the log head signed by the pinned directory key. */
  readonly proven: boolean;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);

/** Directory lookups with pinning and certificate checks; results cached for the session. */
export class DirectoryView {
  readonly #api: GatewayApi;
  readonly #secrets: KeySecrets;
  readonly #cache = new Map<string, Peer>();
  /** Our own participant: its identity key comes from the key file, not from first use. */
  readonly #own: string;
  /** Set when a new pin was added: the caller saves the key file. */
  pinsChanged = false;

  constructor(options: { api: GatewayApi; secrets: KeySecrets; ownParticipant: string }) {
    this.#api = options.api;
    this.#secrets = options.secrets;
    this.#own = options.ownParticipant;
  }

  /**
   * Fetch and check a participant's entry.
   * @param fresh - bypass the session cache (after a rotation or a refusal)
   * @throws GatewayError PSL_FORBIDDEN when the identity key differs from the pinned one
   */
  async peer(participant: string, fresh = false): Promise<Peer> {
    const cached = this.#cache.get(participant);
    if (cached && !fresh) return cached;
    const body = await this.#api.directory(participant);
    const idText = body.identityKey ?? obj(body.participant)?.identityKey;
    const identityKey = typeof idText === 'string' ? fromBase64Url(idText) : undefined;
    if (identityKey?.length !== 32) throw new GatewayError('PSL_BAD_REQUEST', `directory entry of ${participant}: no identity key`);
    const head = await this.#head(participant, body, identityKey);
    const trust = this.#pin(participant, identityKey);
    const devices: PeerDevice[] = [];
    let rejected = 0;
    const certsOf = async (d: Json): Promise<DeviceCert[]> => {
      const certs: DeviceCert[] = [];
      for (const v of [d, ...(Array.isArray(d.history) ? d.history : [])]) {
        const o = obj(v);
        const cert = await checkPeerCert(o?.cert ?? obj(o?.entry)?.cert, o?.sig ?? obj(o?.entry)?.sig, identityKey);
        // With a pinned directory key, a certificate counts only if its entry is in the signed log.
        const logged = head === undefined || await entryIncluded(o?.entry, o?.proof, head);
        if (cert && cert.participant === participant && logged) certs.push(cert);
        else rejected++;
      }
      return certs;
    };
    // Revoked devices come with their certificates so that mail the gateway received before the
    // revocation still verifies; their revokedAt is the revoke entry's logged time, proven like
    // the certificates (a revocation we cannot prove leaves the device out: refused, not trusted).
    const revokedIds = new Set<string>();
    for (const item of Array.isArray(body.revoked) ? body.revoked : []) {
      const r = obj(item);
      const e = obj(r?.entry);
      const dev = obj(r?.device);
      if (!r || !e || e.type !== 'revoke' || e.participant !== participant || typeof e.deviceId !== 'string' || typeof e.at !== 'number') continue;
      // Whatever else we learn, this device is not live.
      revokedIds.add(e.deviceId);
      if (!dev || (head !== undefined && !(await entryIncluded(e, r.proof, head)))) continue;
      const certs = (await certsOf(dev)).filter((c) => c.deviceId === e.deviceId);
      if (certs.length > 0) devices.push({ deviceId: e.deviceId, certs, revokedAt: e.at });
    }
    for (const item of Array.isArray(body.devices) ? body.devices : []) {
      const d = obj(item);
      if (!d) continue;
      const certs = await certsOf(d);
      if (certs.length === 0 || revokedIds.has(certs[0]!.deviceId)) continue;
      const revokedAt = typeof d.revokedAt === 'number' ? d.revokedAt : undefined;
      devices.push({ deviceId: certs[0]!.deviceId, certs, revokedAt });
    }
    const peer: Peer = { participant, identityKey, trust, devices, rejected, proven: head !== undefined };
    this.#cache.set(participant, peer);
    return peer;
  }

  /**
   * Devices to seal for: every live device of each participant (current certificate, not revoked,
   * within its validity window now). Always fetched afresh: the gateway accepts only a device's
   * newest encryption key, and a long-running client must not seal to one rotated away.
   * @throws GatewayError PSL_NOT_FOUND when a participant has no live device
   */
  async recipients(participants: readonly string[], now: number = Date.now()): Promise<SealRecipient[]> {
    const out: SealRecipient[] = [];
    for (const p of [...new Set(participants)]) {
      const peer = await this.peer(p, true);
      const live = peer.devices.filter((d) => d.revokedAt === undefined && d.certs[0]!.notBefore <= now && now <= d.certs[0]!.notAfter);
      if (live.length === 0) throw new GatewayError('PSL_NOT_FOUND', `${p} has no registered device to encrypt to`);
      for (const d of live) {
        const c = d.certs[0]!;
        out.push({ participant: p, device: d.deviceId, x25519: c.encKeyX25519, ...(c.encKeyXWing ? { xwing: c.encKeyXWing } : {}) });
      }
    }
    return out;
  }

  /** openEnvelope's sender lookup: any checked certificate of the device whose signing key has this kid. */
  senderLookup = async (from: { participant: string; device: string; kid: Uint8Array }): Promise<SenderDevice | undefined> => {
    const s = await cryptoReady();
    const find = (peer: Peer): SenderDevice | undefined => {
      const d = peer.devices.find((x) => x.deviceId === from.device);
      const c = d?.certs.find((cert) => equalBytes(s, kidOf(s, cert.sigKey), from.kid));
      return d && c ? { participant: c.participant, device: c.deviceId, sigKey: c.sigKey, notBefore: c.notBefore, notAfter: c.notAfter, revokedAt: d.revokedAt ?? null } : undefined;
    };
    try {
      // A device registered (or rotated) after our cached copy: look once more before refusing.
      return find(await this.peer(from.participant)) ?? find(await this.peer(from.participant, true));
    } catch (err) {
      // Unknown participant: the envelope is refused (sender-unknown). Anything else (gateway
      // unreachable, identity key changed) is not a verdict on the envelope: let it propagate.
      if (isGatewayError(err) && err.code === 'PSL_NOT_FOUND') return undefined;
      throw err;
    }
  };

  /** Mark a participant's pinned key as confirmed by a human (safety numbers compared). */
  confirm(participant: string, identityKey: Uint8Array, now: number = Date.now()): void {
    this.#secrets.pins[participant] = { identityKey: toBase64Url(identityKey), firstSeen: this.#secrets.pins[participant]?.firstSeen ?? now, confirmedAt: now };
    this.#cache.delete(participant);
    this.pinsChanged = true;
  }

  /** Replace a pin after a key change the user accepted (then confirmed = false). */
  repin(participant: string): void {
    delete this.#secrets.pins[participant];
    this.#cache.delete(participant);
    this.pinsChanged = true;
  }

  /**
   * With a directory key pinned at registration: check the signed head (signature, freshness, no
   * rollback) and that the identity key served is the one the log holds for the participant.
   * @returns the checked head, or undefined when no directory key is pinned (older key files)
   * @throws GatewayError PSL_FORBIDDEN when the answer is not backed by the signed log
   */
  async #head(participant: string, body: Json, identityKey: Uint8Array): Promise<CheckedHead | undefined> {
    const gw = this.#secrets.gateway;
    if (gw?.directoryKey === undefined) return undefined;
    const refused = (why: string): GatewayError => new GatewayError('PSL_FORBIDDEN', `directory answer for ${participant} refused: ${why}`);
    const head = await checkHead(body.head, gw.directoryKey, { ...(gw.lastHeadSize !== undefined ? { lastSize: gw.lastHeadSize } : {}) });
    if (typeof head === 'string') throw refused(head);
    const id = obj(body.identity);
    const entry = obj(id?.entry);
    const logged = entry?.type === 'add-participant' ? entry.identityKey : entry?.type === 'rotate-identity' ? entry.newKey : undefined;
    if (entry?.participant !== participant || logged !== toBase64Url(identityKey) || !(await entryIncluded(entry, id?.proof, head))) {
      throw refused('identity key not proven in the signed log');
    }
    if (gw.lastHeadSize === undefined || head.size > gw.lastHeadSize) {
      gw.lastHeadSize = head.size;
      this.pinsChanged = true;
    }
    return head;
  }

  #pin(participant: string, identityKey: Uint8Array): Peer['trust'] {
    const own = this.#secrets.identity.publicKey;
    const text = toBase64Url(identityKey);
    const pinned = this.#secrets.pins[participant];
    const ownMismatch = participant === this.#own && toBase64Url(own) !== text;
    if (ownMismatch || (pinned && pinned.identityKey !== text)) {
      throw new GatewayError('PSL_FORBIDDEN', `the identity key of ${participant} changed since it was first seen; `
        + `compare safety numbers with them, then run \`passerelle-client verify ${participant} --accept-new-key\``);
    }
    if (pinned) return pinned.confirmedAt !== undefined ? 'confirmed' : 'known';
    this.#secrets.pins[participant] = { identityKey: text, firstSeen: Date.now() };
    this.pinsChanged = true;
    return participant === this.#own ? 'confirmed' : 'new';
  }
}
