/**
 * The key directory: participants' identity keys, their devices' certificates, revocations and
 * identity rotations, all as entries of one append-only hash-chained log (protocol/directory-log.ts) kept in a
 * RelayStore. The in-memory view is rebuilt from the log at start and caught up before every
 * decision, so several gateway processes sharing one Redis agree on it.
 */
import { fromBase64Url, toBase64Url } from '../../protocol/crypto/base64url.js';
import type { Suite } from '../../protocol/crypto/envelope-types.js';
import type { SenderDevice } from '../../protocol/crypto/envelope-verify.js';
import { cryptoReady, equalBytes } from '../../protocol/crypto/primitives.js';
import { ed25519Sign, ed25519Verify } from '../../protocol/crypto/signature.js';
import type { Sodium } from '../../protocol/crypto/sodium.js';
import type { RelayStore } from '../core/relay-store.js';
import {
  certFromWire, certToWire, checkDeviceCert, encKid, revokeSignedBytes, rotateSignedBytes, sigFromWire,
  type CertRejection, type DeviceCert,
} from '../../protocol/device-cert.js';
import type { GatewayKey } from './gateway-keys.js';
import {
  addParticipantSignedBytes, chainEntry, contentHash, GENESIS, signHead,
  type EntryBody, type InclusionProof, type LogEntry, type SignedHead,
} from '../../protocol/directory-log.js';
import { checkEd25519PublicKey, kidOf } from '../../protocol/crypto/keys.js';

const LOG = 'directory';
const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** A device as the directory knows it. */
export interface DeviceState {
  readonly participant: string;
  readonly deviceId: string;
  /** Current certificate and its entry; older ones stay in `history` until they expire. */
  cert: DeviceCert;
  entry: LogEntry;
  history: Array<{ cert: DeviceCert; entry: LogEntry }>;
  revokedAt?: number;
  revokeEntry?: LogEntry;
}

/** A directory decision as a value. */
export type DirectoryResult = { ok: true; entry: LogEntry } | { ok: false; reason: CertRejection | 'forbidden' | 'unknown-participant' | 'unknown-device' | 'revoked' | 'stale' | 'conflict' };

/** A configured identity key that disagrees with the log (start must be refused). */
export interface IdentityMismatch {
  readonly participant: string;
  readonly index: number;
  readonly loggedAt: number;
}

const key = (p: string, d: string): string => `${p}\u0000${d}`;

/** The key directory over a RelayStore log. */
export class Directory {
  readonly #s: Sodium;
  readonly #store: RelayStore;
  readonly #dirKey: GatewayKey;
  readonly #entries: LogEntry[] = [];
  readonly #identities = new Map<string, Uint8Array>();
  readonly #devices = new Map<string, DeviceState>();
  #lock: Promise<unknown> = Promise.resolve();

  private constructor(s: Sodium, store: RelayStore, dirKey: GatewayKey) {
    this.#s = s;
    this.#store = store;
    this.#dirKey = dirKey;
  }

  /**
   * Load the log, bootstrap participants whose identity key is configured but not yet logged, and
   * report configured keys that differ from the log (the caller refuses to start on any).
   * @param options.participants - participants from participants.yaml, in file order
   */
  static async open(options: { store: RelayStore; directoryKey: GatewayKey; participants: ReadonlyArray<{ id: string; identityKey?: string | undefined }>; now?: () => number }): Promise<{ directory: Directory; mismatches: IdentityMismatch[] }> {
    const d = new Directory(await cryptoReady(), options.store, options.directoryKey);
    await d.refresh();
    const mismatches: IdentityMismatch[] = [];
    for (const [index, p] of options.participants.entries()) {
      if (p.identityKey === undefined) continue;
      const configured = fromBase64Url(p.identityKey);
      const logged = d.#identities.get(p.id);
      if (logged === undefined) {
        if (!configured || !checkEd25519PublicKey(d.#s, configured).ok) {
          mismatches.push({ participant: p.id, index, loggedAt: 0 });
          continue;
        }
        const sig = ed25519Sign(d.#s, addParticipantSignedBytes(p.id, configured), d.#dirKey.secretKey);
        // Another gateway process sharing the log may bootstrap it first: then there is nothing to add.
        await d.#append(() => (d.#identities.has(p.id) ? 'done'
          : { type: 'add-participant', participant: p.id, identityKey: p.identityKey!, sig: toBase64Url(sig) }));
      } else if (!configured || !equalBytes(d.#s, configured, logged)) {
        const last = [...d.#entries].reverse().find((e) => e.participant === p.id && (e.type === 'add-participant' || e.type === 'rotate-identity'));
        mismatches.push({ participant: p.id, index, loggedAt: last?.at ?? 0 });
      }
    }
    return { directory: d, mismatches };
  }

  /** Catch up with entries other processes appended. */
  async refresh(): Promise<void> {
    const fresh = await this.#store.logRead(LOG, this.#entries.length);
    for (const raw of fresh) this.#apply(JSON.parse(utf8d.decode(raw)) as LogEntry);
  }

  /** Current identity key of a participant, if it has one. */
  identityKey(participant: string): Uint8Array | undefined {
    return this.#identities.get(participant);
  }

  /** A registered device (revoked ones included, with revokedAt). */
  device(participant: string, deviceId: string): DeviceState | undefined {
    return this.#devices.get(key(participant, deviceId));
  }

  /**
   * Register (or rotate) a device certificate signed by the participant's identity key.
   * @param caller - authenticated participant; must be the certificate's participant
   * @param body - `{ cert, sig }` as received
   * @param now - gateway clock
   */
  register(caller: string, body: unknown, now: number = Date.now()): Promise<DirectoryResult> {
    return this.#serial(async () => {
      const b = body as { cert?: unknown; sig?: unknown } | null;
      const cert = certFromWire(b?.cert);
      const sig = sigFromWire(b?.sig);
      if (!cert || !sig || typeof b !== 'object' || Object.keys(b ?? {}).length !== 2) return { ok: false, reason: 'malformed' };
      if (cert.participant !== caller) return { ok: false, reason: 'forbidden' };
      await this.refresh();
      const identity = this.#identities.get(cert.participant);
      if (!identity) return { ok: false, reason: 'unknown-participant' };
      const rejection = checkDeviceCert(this.#s, cert, sig, identity, now);
      if (rejection) return { ok: false, reason: rejection };
      // Checked again on every append attempt: another process may have changed the device meanwhile.
      return this.#append(() => {
        const existing = this.#devices.get(key(cert.participant, cert.deviceId));
        if (existing?.revokedAt !== undefined) return { ok: false, reason: 'revoked' };
        // Rotation only moves forward: an older certificate replayed cannot displace a newer one.
        if (existing && cert.notBefore <= existing.cert.notBefore) return { ok: false, reason: 'stale' };
        return { type: 'add-device', participant: cert.participant, cert: certToWire(cert), sig: toBase64Url(sig), at: now };
      });
    });
  }

  /**
   * Revoke a device with a statement signed by the identity key; effective from the logged time.
   * @param caller - authenticated participant (must own the device)
   * @param deviceId - device to revoke
   * @param body - `{ time, sig }`
   */
  revoke(caller: string, deviceId: string, body: unknown, now: number = Date.now()): Promise<DirectoryResult> {
    return this.#serial(async () => {
      const b = body as { time?: unknown; sig?: unknown } | null;
      const sig = sigFromWire(b?.sig);
      const time = b?.time;
      if (!sig || typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0) return { ok: false, reason: 'malformed' };
      await this.refresh();
      const dev = this.#devices.get(key(caller, deviceId));
      const identity = this.#identities.get(caller);
      if (!dev || !identity) return { ok: false, reason: 'unknown-device' };
      if (!ed25519Verify(this.#s, sig, revokeSignedBytes({ participant: caller, deviceId, time }), identity)) return { ok: false, reason: 'signature' };
      if (dev.revokeEntry) return { ok: true, entry: dev.revokeEntry };
      return this.#append(() => ({ type: 'revoke', participant: caller, deviceId, time, sig: toBase64Url(sig), at: now }));
    });
  }

  /**
   * Rotate a participant's identity key: signed by the old key and by the new one (proof of
   * possession). The admin then updates participants.yaml to the new key.
   * @param caller - authenticated participant
   * @param body - `{ newKey, time, sigOld, sigNew }`
   */
  rotateIdentity(caller: string, body: unknown, now: number = Date.now()): Promise<DirectoryResult> {
    return this.#serial(async () => {
      const b = body as { newKey?: unknown; time?: unknown; sigOld?: unknown; sigNew?: unknown } | null;
      const newKey = typeof b?.newKey === 'string' ? fromBase64Url(b.newKey) : undefined;
      const sigOld = sigFromWire(b?.sigOld);
      const sigNew = sigFromWire(b?.sigNew);
      const time = b?.time;
      if (!newKey || !sigOld || !sigNew || typeof time !== 'number' || !Number.isSafeInteger(time)) return { ok: false, reason: 'malformed' };
      if (!checkEd25519PublicKey(this.#s, newKey).ok) return { ok: false, reason: 'sig-key' };
      await this.refresh();
      const oldKey = this.#identities.get(caller);
      if (!oldKey) return { ok: false, reason: 'unknown-participant' };
      const signed = rotateSignedBytes({ participant: caller, oldKey, newKey, time });
      if (!ed25519Verify(this.#s, sigOld, signed, oldKey) || !ed25519Verify(this.#s, sigNew, signed, newKey)) return { ok: false, reason: 'signature' };
      return this.#append(() => ({
        type: 'rotate-identity', participant: caller, oldKey: toBase64Url(oldKey), newKey: toBase64Url(newKey), time,
        sigOld: toBase64Url(sigOld), sigNew: toBase64Url(sigNew), at: now,
      }));
    });
  }

  /**
   * The sender-device lookup verifyOuter needs: any certificate of the device whose signing key
   * has this kid (the current one, or an older one still within its validity).
   */
  senderLookup = (from: { participant: string; device: string; kid: Uint8Array }): SenderDevice | undefined => {
    const dev = this.#devices.get(key(from.participant, from.device));
    if (!dev) return undefined;
    for (const c of [dev.cert, ...dev.history.map((h) => h.cert)]) {
      if (equalBytes(this.#s, kidOf(this.#s, c.sigKey), from.kid)) {
        return { participant: c.participant, device: c.deviceId, sigKey: c.sigKey, notBefore: c.notBefore, notAfter: c.notAfter, revokedAt: dev.revokedAt ?? null };
      }
    }
    return undefined;
  };

  /**
   * Is (participant, device, kid) a live recipient for `suite` at `at`? Only the current
   * certificate counts: senders must encrypt to the newest key.
   */
  recipientValid(r: { participant: string; device: string; kid: Uint8Array }, suite: Suite, at: number): boolean {
    const dev = this.#devices.get(key(r.participant, r.device));
    if (!dev || dev.revokedAt !== undefined || at < dev.cert.notBefore || at > dev.cert.notAfter) return false;
    const kid = encKid(this.#s, dev.cert, suite);
    return kid !== undefined && dev.cert.capabilities.includes(suite) && equalBytes(this.#s, kid, r.kid);
  }

  /** The head signed now. */
  head(now: number = Date.now()): SignedHead {
    const last = this.#entries.at(-1);
    return signHead(this.#s, { size: this.#entries.length, headHash: last ? fromBase64Url(last.hash)! : GENESIS, time: now }, this.#dirKey.secretKey);
  }

  /** Position proof of entry `seq` against the current head. */
  proof(seq: number): InclusionProof {
    const entry = this.#entries[seq]!;
    return { seq, entryHash: entry.hash, path: this.#entries.slice(seq + 1).map((e) => toBase64Url(contentHash(this.#s, e))) };
  }

  /** Devices of a participant (current state), revoked ones included. */
  devicesOf(participant: string): DeviceState[] {
    return [...this.#devices.values()].filter((d) => d.participant === participant);
  }

  /** Log entries from `from`, for monitors. */
  entries(from = 0, limit = 1000): LogEntry[] {
    return this.#entries.slice(from, from + limit);
  }

  #apply(e: LogEntry): void {
    this.#entries.push(e);
    switch (e.type) {
      case 'add-participant':
        this.#identities.set(e.participant, fromBase64Url(e.identityKey)!);
        break;
      case 'rotate-identity':
        this.#identities.set(e.participant, fromBase64Url(e.newKey)!);
        break;
      case 'add-device': {
        const cert = certFromWire(e.cert)!;
        const k = key(e.participant, cert.deviceId);
        const dev = this.#devices.get(k);
        if (dev) {
          dev.history.unshift({ cert: dev.cert, entry: dev.entry });
          dev.cert = cert;
          dev.entry = e;
        } else this.#devices.set(k, { participant: e.participant, deviceId: cert.deviceId, cert, entry: e, history: [] });
        break;
      }
      case 'revoke': {
        const dev = this.#devices.get(key(e.participant, e.deviceId));
        if (dev && dev.revokedAt === undefined) {
          dev.revokedAt = e.at;
          dev.revokeEntry = e;
        }
        break;
      }
      default:
        e satisfies never;
    }
  }

  /**
   * Append with optimistic positions: on a lost race, catch up and rebuild the draft, which
   * re-checks its preconditions (a refusal, or 'done' when there is nothing left to append).
   */
  async #append(draft: () => (EntryBody & { participant: string; at?: number }) | Extract<DirectoryResult, { ok: false }> | 'done'): Promise<DirectoryResult> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const d = draft();
      if (d === 'done') return { ok: false, reason: 'conflict' };
      if ('ok' in d) return d;
      const seq = this.#entries.length;
      const prev = seq === 0 ? GENESIS : fromBase64Url(this.#entries[seq - 1]!.hash)!;
      const entry = chainEntry(this.#s, { ...d, at: d.at ?? Date.now() }, seq, prev);
      if (await this.#store.logAppend(LOG, seq, utf8.encode(JSON.stringify(entry)))) {
        this.#apply(entry);
        return { ok: true, entry };
      }
      await this.refresh();
    }
    return { ok: false, reason: 'conflict' };
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }
}
