/**
 * Open an envelope as a recipient device, following ENVELOPE.md §3 "Recipient procedure" in order.
 * Every refusal is a value with a stable reason; nothing is decrypted before the signature, the
 * replay cache and the key commitment have been checked.
 */
import { fromBase64Url, toBase64Url } from './base64url.js';
import {
  commitFor, decryptPayload, payloadAad, recipientParticipants, unwrapKey, MAX_FUTURE_SKEW_MS, type UnwrapKey,
} from './envelope-core.js';
import { SUITES, type Envelope, type InnerPlaintext } from './envelope-types.js';
import { checkOuter, refuse, type OuterCheckOptions, type Refused, type ReplayCache, type SenderDevice, type SenderKeyLookup } from './envelope-verify.js';
import { kidOf } from './keys.js';
import { cryptoReady, equalBytes, SIZES } from './primitives.js';
import { CHUNK_BYTES, type AttachmentSecret } from './attachments.js';
import type { Sodium } from './sodium.js';

/** One of the recipient's own decryption keys (current, or an older one kept for the TTL). */
export interface DecryptionKey {
  readonly kind: 'x25519' | 'xwing';
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

/** The opening device: who it is and the keys it holds. */
export interface OpeningDevice {
  readonly participant: string;
  readonly device: string;
  readonly keys: readonly DecryptionKey[];
}

/** Options for openEnvelope. */
export interface OpenOptions extends OuterCheckOptions {
  readonly senderLookup: SenderKeyLookup;
  readonly replay: ReplayCache;
  readonly recipient: OpeningDevice;
}

/** An attachment the opened envelope grants: inner description with decoded key material. */
export interface OpenedAttachment extends AttachmentSecret {
  readonly name: string;
  readonly mime: string;
}

/** A successfully opened envelope. */
export interface Opened {
  readonly ok: true;
  readonly envelope: Envelope;
  readonly sender: SenderDevice;
  readonly inner: InnerPlaintext;
  readonly attachments: readonly OpenedAttachment[];
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Open an envelope addressed to `opts.recipient`.
 * @param env - decoded envelope (decodeEnvelope has checked its structure)
 * @param opts - allow-list, directory, replay cache, own keys, receive time, clock
 * @returns the inner plaintext and attachment keys, or a refusal with its reason
 */
export async function openEnvelope(env: Envelope, opts: OpenOptions): Promise<Opened | Refused> {
  const s = await cryptoReady();

  // Steps 1–4: suite, sender, signature, ts window.
  const outer = await checkOuter(s, env, opts.senderLookup, opts);
  if (!outer.ok) return outer;
  // Step 4: replay, only for authentic envelopes so forgeries cannot burn ids.
  const until = env.expires + (opts.maxFutureSkewMs ?? MAX_FUTURE_SKEW_MS);
  if (!(await opts.replay.remember(env.from.participant, toBase64Url(env.id), until))) return refuse('replay');

  // Step 5: own kid, unwrap, commitment.
  const kind = env.suite === SUITES.hybrid ? 'xwing' : 'x25519';
  let k: Uint8Array | undefined;
  let found = false;
  for (const key of opts.recipient.keys) {
    if (key.kind !== kind) continue;
    const kid = kidOf(s, key.publicKey);
    const entry = env.to.find((r) => equalBytes(s, r.kid, kid));
    if (entry === undefined) continue;
    // The kid is ours, but the label must be too: a relabelled entry is a re-addressing attempt.
    if (entry.participant !== opts.recipient.participant || entry.device !== opts.recipient.device) continue;
    found = true;
    k = unwrap(s, env, entry.wrap, { kid, publicKey: key.publicKey, privateKey: key.privateKey });
    break;
  }
  if (!found) return refuse('not-a-recipient');
  if (k === undefined) return refuse('wrap');
  try {
    // Before any decryption: a sender who wrapped different keys for different recipients fails here.
    if (!s.memcmp(commitFor(s, k, env.id), env.commit)) return refuse('commit');

    // Step 6: decrypt and unpad.
    const plain = decryptPayload(s, k, env.nonce, payloadAad(s, env), env.payload);
    if (plain === undefined) return refuse('payload');
    const inner = parseInner(plain);
    if (inner === undefined) return refuse('payload');

    // Step 7: inner id, ts, from, to equal the outer header; attachments match the signed refs.
    if (!innerMatches(env, inner)) return refuse('inner-mismatch');
    const attachments = matchAttachments(env, inner);
    if (attachments === undefined) return refuse('attachment');
    return { ok: true, envelope: env, sender: outer.sender, inner, attachments };
  } finally {
    s.memzero(k);
  }
}

function unwrap(s: Sodium, env: Envelope, wrap: Uint8Array, key: UnwrapKey): Uint8Array | undefined {
  return unwrapKey(s, env.suite, wrap, env.id, key);
}

function parseInner(bytes: Uint8Array): InnerPlaintext | undefined {
  let v: unknown;
  try {
    v = JSON.parse(utf8Strict.decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const from = o.from as Record<string, unknown> | null | undefined;
  const ok = typeof o.id === 'string' && typeof o.ts === 'number' && typeof o.type === 'string'
    && typeof from === 'object' && from !== null && typeof from.participant === 'string' && typeof from.device === 'string'
    && Array.isArray(o.to) && o.to.every((p) => typeof p === 'string')
    && Array.isArray(o.attachments);
  return ok ? (o as InnerPlaintext) : undefined;
}

function innerMatches(env: Envelope, inner: InnerPlaintext): boolean {
  const to = recipientParticipants(env.to);
  const innerTo = [...inner.to].sort();
  return inner.id === toBase64Url(env.id) && inner.ts === env.ts
    && inner.from.participant === env.from.participant && inner.from.device === env.from.device
    && Object.keys(inner.from).length === 2
    && innerTo.length === to.length && innerTo.every((p, i) => p === to[i]);
}

function matchAttachments(env: Envelope, inner: InnerPlaintext): OpenedAttachment[] | undefined {
  if (inner.attachments.length !== env.attachments.length) return undefined;
  const out: OpenedAttachment[] = [];
  for (const [i, outer] of env.attachments.entries()) {
    const a: unknown = inner.attachments[i];
    if (typeof a !== 'object' || a === null) return undefined;
    const r = a as Record<string, unknown>;
    if (r.ref !== outer.ref || r.size !== outer.size || r.chunk !== CHUNK_BYTES) return undefined;
    if (typeof r.name !== 'string' || typeof r.mime !== 'string') return undefined;
    const key = typeof r.key === 'string' ? fromBase64Url(r.key) : undefined;
    const header = typeof r.header === 'string' ? fromBase64Url(r.header) : undefined;
    const hash = typeof r.hash === 'string' ? fromBase64Url(r.hash) : undefined;
    if (key?.length !== SIZES.key || header?.length !== SIZES.xnonce || hash === undefined) return undefined;
    if (hash.length !== outer.hash.length || !hash.every((b, j) => b === outer.hash[j])) return undefined;
    out.push({ ref: outer.ref, name: r.name, mime: r.mime, key, header, size: outer.size, hash: outer.hash, chunk: CHUNK_BYTES });
  }
  return out;
}
