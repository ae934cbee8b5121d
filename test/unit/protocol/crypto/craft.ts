// Build envelopes by hand from the low-level blocks, as a malicious sender (who holds a valid
// signing key) would. Used only by the negative tests.
import { toBase64Url } from '../../../../protocol/crypto/base64url.js';
import { compareKids } from '../../../../protocol/crypto/envelope-codec.js';
import {
  commitFor, encryptPayload, payloadAad, recipientParticipants, signedBytes, wrapKey,
} from '../../../../protocol/crypto/envelope-core.js';
import { SUITES, type Envelope, type Suite } from '../../../../protocol/crypto/envelope-types.js';
import { kidOf } from '../../../../protocol/crypto/keys.js';
import { cryptoReady } from '../../../../protocol/crypto/primitives.js';
import { ed25519Sign } from '../../../../protocol/crypto/signature.js';
import { DAY, NOW, type Device } from './fixtures.js';

export interface CraftTarget {
  dev: Device;
  /** Content key this recipient's wrap holds (default: the payload key). */
  k?: Uint8Array;
  /** Envelope id bound into the wrap (default: the envelope's id). */
  wrapId?: Uint8Array;
}

export interface CraftOptions {
  suite: Suite;
  sender: Device;
  to: CraftTarget[];
  k?: Uint8Array;
  commitKey?: Uint8Array;
  id?: Uint8Array;
  ts?: number;
  /** Change the inner JSON object before it is encrypted. */
  inner?: (inner: Record<string, unknown>) => Record<string, unknown>;
}

export async function craft(o: CraftOptions): Promise<Envelope> {
  const s = await cryptoReady();
  const k = o.k ?? s.crypto_aead_xchacha20poly1305_ietf_keygen();
  const id = o.id ?? s.randombytes_buf(16);
  const ts = o.ts ?? NOW;
  const expires = ts + 30 * DAY;
  const from = { participant: o.sender.participant, device: o.sender.device, kid: o.sender.keys.sign.kid };
  const targets = o.to.map((t) => {
    const publicKey = o.suite === SUITES.hybrid ? t.dev.keys.xwing!.publicKey : t.dev.keys.x25519.publicKey;
    return { t, participant: t.dev.participant, device: t.dev.device, publicKey, kid: kidOf(s, publicKey) };
  }).sort((a, b) => compareKids(a.kid, b.kid));
  const base: Record<string, unknown> = {
    type: 'text', body: 'hello',
    id: toBase64Url(id), ts, from: { participant: from.participant, device: from.device },
    to: recipientParticipants(targets), attachments: [],
  };
  const inner = new TextEncoder().encode(JSON.stringify(o.inner ? o.inner(base) : base));
  const nonce = s.randombytes_buf(24);
  const unsigned = {
    suite: o.suite, id, ts, expires, class: 'message' as const, from,
    to: targets.map((x) => ({
      participant: x.participant, device: x.device, kid: x.kid,
      wrap: wrapKey(s, o.suite, x.t.k ?? k, x.t.wrapId ?? id, x),
    })),
    commit: commitFor(s, o.commitKey ?? k, id),
    nonce,
    payload: encryptPayload(s, k, nonce, payloadAad(s, { suite: o.suite, id, ts, expires, from, to: targets }), inner),
    attachments: [],
  };
  return { v: 1, ...unsigned, sig: ed25519Sign(s, signedBytes(s, unsigned), o.sender.keys.sign.privateKey) };
}

/** Re-sign an envelope with the sender's key (the sender, not the gateway, is the attacker). */
export async function resign(env: Envelope, sender: Device): Promise<Envelope> {
  const s = await cryptoReady();
  return { ...env, sig: ed25519Sign(s, signedBytes(s, env), sender.keys.sign.privateKey) };
}
