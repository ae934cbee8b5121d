/**
 * The sealed part of the key file, in memory (bytes) and as the JSON that gets encrypted
 * (base64url). Parsing is strict: the plaintext is authenticated, but a file written by an older
 * or buggy build should fail loudly rather than half-load.
 */
import { fromBase64Url, toBase64Url } from '../protocol/crypto/base64url.js';

/** A key pair as libsodium returns it. */
export interface RawKeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/** An encryption key replaced by `rotate`, kept to open mail sealed to it until `deleteAfter`. */
export interface RetiredKey {
  kind: 'x25519' | 'xwing';
  publicKey: Uint8Array;
  privateKey: Uint8Array;
  /** epoch ms: after this the key is deleted (ENVELOPE.md: keep old keys only for the offline TTL). */
  deleteAfter: number;
}

/** A peer's identity key as first seen (trust on first use) and whether a human compared safety numbers. */
export interface PeerPin {
  identityKey: string;
  firstSeen: number;
  confirmedAt?: number;
}

/** Everything secret the client holds. */
export interface KeySecrets {
  identity: RawKeyPair;
  device: { sign: RawKeyPair; x25519: RawKeyPair; xwing?: RawKeyPair; notBefore?: number; notAfter?: number };
  retired: RetiredKey[];
  /** Seals the local message store (messages at rest on this machine). */
  storageKey: Uint8Array;
  /** Gateway URL, token (or `env:` reference) and its public keys pinned at registration. */
  gateway?: { url: string; token?: string; tokenRef?: string; serviceKey?: string; directoryKey?: string; lastHeadSize?: number };
  pins: Record<string, PeerPin>;
}

type Json = Record<string, unknown>;

const pairOut = (p: RawKeyPair): Json => ({ publicKey: toBase64Url(p.publicKey), privateKey: toBase64Url(p.privateKey) });

/** Serialise the secrets to UTF-8 JSON (the caller encrypts and wipes it). */
export function secretsToJson(k: KeySecrets): Uint8Array {
  const doc = {
    identity: pairOut(k.identity),
    device: {
      sign: pairOut(k.device.sign), x25519: pairOut(k.device.x25519),
      ...(k.device.xwing ? { xwing: pairOut(k.device.xwing) } : {}),
      ...(k.device.notBefore !== undefined ? { notBefore: k.device.notBefore, notAfter: k.device.notAfter } : {}),
    },
    retired: k.retired.map((r) => ({ kind: r.kind, ...pairOut(r), deleteAfter: r.deleteAfter })),
    storageKey: toBase64Url(k.storageKey),
    ...(k.gateway ? { gateway: k.gateway } : {}),
    pins: k.pins,
  };
  return new TextEncoder().encode(JSON.stringify(doc));
}

function bytes(v: unknown, len?: number): Uint8Array {
  const b = typeof v === 'string' ? fromBase64Url(v) : undefined;
  if (!b || (len !== undefined && b.length !== len)) throw new TypeError('key bytes');
  return b;
}

function pairIn(v: unknown, pub: number, priv: number): RawKeyPair {
  const o = v as Json | undefined;
  return { publicKey: bytes(o?.publicKey, pub), privateKey: bytes(o?.privateKey, priv) };
}

/** Parse decrypted JSON; undefined when anything is missing or mis-sized. */
export function secretsFromJson(plain: Uint8Array): KeySecrets | undefined {
  try {
    const d = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plain)) as Json;
    const dev = d.device as Json;
    const gw = d.gateway as Json | undefined;
    const pins = (d.pins ?? {}) as Record<string, PeerPin>;
    for (const p of Object.values(pins)) if (typeof p.identityKey !== 'string' || typeof p.firstSeen !== 'number') return undefined;
    return {
      identity: pairIn(d.identity, 32, 64),
      device: {
        sign: pairIn(dev.sign, 32, 64),
        x25519: pairIn(dev.x25519, 32, 32),
        ...(dev.xwing ? { xwing: pairIn(dev.xwing, 1216, 32) } : {}),
        ...(typeof dev.notBefore === 'number' && typeof dev.notAfter === 'number' ? { notBefore: dev.notBefore, notAfter: dev.notAfter } : {}),
      },
      retired: (d.retired as Json[]).map((r) => {
        if (r.kind !== 'x25519' && r.kind !== 'xwing') throw new TypeError('retired kind');
        if (typeof r.deleteAfter !== 'number') throw new TypeError('retired deleteAfter');
        return { kind: r.kind, ...pairIn(r, r.kind === 'xwing' ? 1216 : 32, 32), deleteAfter: r.deleteAfter };
      }),
      storageKey: bytes(d.storageKey, 32),
      ...(gw && typeof gw.url === 'string' ? {
        gateway: {
          url: gw.url,
          ...(typeof gw.token === 'string' ? { token: gw.token } : {}),
          ...(typeof gw.tokenRef === 'string' ? { tokenRef: gw.tokenRef } : {}),
          ...(typeof gw.serviceKey === 'string' ? { serviceKey: gw.serviceKey } : {}),
          ...(typeof gw.directoryKey === 'string' ? { directoryKey: gw.directoryKey } : {}),
          ...(typeof gw.lastHeadSize === 'number' ? { lastHeadSize: gw.lastHeadSize } : {}),
        },
      } : {}),
      pins,
    };
  } catch {
    return undefined;
  }
}
