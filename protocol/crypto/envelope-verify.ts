/**
 * Outer checks that need no private key (recipient procedure steps 1–4, ENVELOPE.md §3): suite
 * allow-list, sender device resolution, signature, ts window. The relay calls verifyOuter at
 * ingress; openEnvelope runs the same code before it touches any key material.
 */
import type { Sodium } from './sodium.js';
import { signedBytes, DEFAULT_TTL_MS, MAX_FUTURE_SKEW_MS } from './envelope-core.js';
import { decodeEnvelope } from './envelope-codec.js';
import type { Envelope, Suite } from './envelope-types.js';
import { kidOf } from './keys.js';
import { cryptoReady, equalBytes } from './primitives.js';
import { ed25519Verify } from './signature.js';

/** Every way an envelope can be refused, in recipient-procedure order. */
export const OPEN_FAILURES = [
  'suite', 'sender-unknown', 'sender-revoked', 'sender-expired', 'signature', 'expired', 'future', 'replay',
  'not-a-recipient', 'wrap', 'commit', 'payload', 'inner-mismatch', 'attachment',
] as const;

/** Why an envelope was refused. Stable: tests, the relay and metrics switch on it. */
export type OpenFailure = (typeof OPEN_FAILURES)[number];

/** A refusal as a value: bad envelopes are bad data, not a broken system. */
export interface Refused {
  readonly ok: false;
  readonly reason: OpenFailure;
}

/** What the directory knows about a sender device (from its signed DeviceCert and the log). */
export interface SenderDevice {
  readonly participant: string;
  readonly device: string;
  /** Ed25519 signing key; its BLAKE2b-256 must equal the envelope's from.kid. */
  readonly sigKey: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  /** Gateway-logged revocation time, if any. */
  readonly revokedAt?: number | null;
}

/**
 * Resolve a sender device by kid in the key directory (caller-supplied).
 * @returns the device, or undefined when the directory does not know the kid
 */
export type SenderKeyLookup = (from: {
  readonly participant: string;
  readonly device: string;
  readonly kid: Uint8Array;
}) => SenderDevice | undefined | Promise<SenderDevice | undefined>;

/** Options shared by verifyOuter and openEnvelope. */
export interface OuterCheckOptions {
  /** Suites this deployment accepts (config allow-list). */
  readonly suites: readonly Suite[];
  /** Gateway's (signed) receive time in ms: sender validity and revocation are judged at it. */
  readonly receivedAt: number;
  /** Clock for the ts window; defaults to Date.now(). */
  readonly now?: number;
  /** Maximum age of ts (offline TTL); default 30 days. */
  readonly maxTtlMs?: number;
  /** Maximum future skew of ts; default 5 minutes. */
  readonly maxFutureSkewMs?: number;
}

/** Outer checks passed. */
export interface OuterOk {
  readonly ok: true;
  readonly sender: SenderDevice;
}

/**
 * Steps 1–4 minus the replay cache, with libsodium already loaded.
 * @param s - libsodium
 * @param env - decoded envelope
 * @param lookup - sender directory
 * @param opts - allow-list, receive time, clock and windows
 */
export async function checkOuter(s: Sodium, env: Envelope, lookup: SenderKeyLookup, opts: OuterCheckOptions): Promise<OuterOk | Refused> {
  if (env.v !== 1 || !opts.suites.includes(env.suite)) return refuse('suite');

  const sender = await lookup(env.from);
  // Never trust the directory callback blindly: the key must hash to the kid the sender named.
  if (sender === undefined || sender.participant !== env.from.participant || sender.device !== env.from.device
    || !equalBytes(s, kidOf(s, sender.sigKey), env.from.kid)) {
    return refuse('sender-unknown');
  }
  if (sender.revokedAt != null && sender.revokedAt <= opts.receivedAt) return refuse('sender-revoked');
  if (opts.receivedAt < sender.notBefore || opts.receivedAt > sender.notAfter) return refuse('sender-expired');

  if (!ed25519Verify(s, env.sig, signedBytes(s, env), sender.sigKey)) return refuse('signature');

  const now = opts.now ?? Date.now();
  if (env.ts > now + (opts.maxFutureSkewMs ?? MAX_FUTURE_SKEW_MS)) return refuse('future');
  if (now > env.expires || now - env.ts > (opts.maxTtlMs ?? DEFAULT_TTL_MS) || env.expires <= env.ts) return refuse('expired');
  return { ok: true, sender };
}

/**
 * Gateway-side check of an envelope without any private key: structure (when given bytes or text),
 * suite allow-list, sender device valid and not revoked at `receivedAt`, signature over the
 * canonical bytes, ts window.
 * @param input - decoded envelope, or the wire bytes / text to decode first
 * @param lookup - sender directory
 * @param opts - allow-list, receive time, clock and windows
 * @throws GatewayError PSL_ENVELOPE_MALFORMED when bytes or text do not decode
 */
export async function verifyOuter(input: Envelope | Uint8Array | string, lookup: SenderKeyLookup, opts: OuterCheckOptions): Promise<OuterOk | Refused> {
  const env = typeof input === 'string' || input instanceof Uint8Array ? decodeEnvelope(input) : input;
  return checkOuter(await cryptoReady(), env, lookup, opts);
}

/**
 * Recipient replay cache of (sender participant, id). Implementations must be atomic
 * (e.g. Redis SET NX EX) and keep entries until `until` (expires + skew).
 */
export interface ReplayCache {
  /** @returns true when the pair was new and is now remembered; false when already seen */
  remember(sender: string, id: string, until: number): boolean | Promise<boolean>;
}

/** In-process replay cache for tests and single-process clients. */
export class MemoryReplayCache implements ReplayCache {
  private readonly seen = new Map<string, number>();

  /** @inheritDoc */
  remember(sender: string, id: string, until: number): boolean {
    const key = `${sender}\u0000${id}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, until);
    if (this.seen.size > 10_000) {
      const now = Date.now();
      for (const [k, t] of this.seen) if (t < now) this.seen.delete(k);
    }
    return true;
  }
}

/**
 * A refusal value.
 * @param reason - which check failed
 */
export function refuse(reason: OpenFailure): Refused {
  return { ok: false, reason };
}
