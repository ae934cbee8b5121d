import { BlockList, isIP, type Socket } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Caller } from '../../gateway/core/ports.js';

/**
 * Who is on the other end of an MLLP connection. A feed belongs to one participant (its owner):
 * with TLS the client certificate must chain to the feed's CA (checked by the TLS handshake) and
 * match the owner's pinned fingerprints or subjects; without TLS the source address must be on the
 * feed's allow-list. Both may apply at once. `insecure` is the explicit, logged escape hatch.
 */
export interface FeedAuthOptions {
  owner: Caller;
  /** IPv4/IPv6 addresses or CIDRs; empty = no address restriction. */
  allowFrom?: readonly string[];
  /** SHA-256 of the owner's client certificate (DER), hex with or without colons. */
  clientFingerprints?: readonly string[];
  /** Owner subjects, e.g. `CN=chu-lyon-mllp,O=CHU de Lyon`: every listed attribute must match. */
  clientSubjects?: readonly string[];
  /** Neither a certificate nor an address check is configured and the admin accepted that. */
  insecure?: boolean;
}

/** The verdict on one connection: the caller, or why not (a registry code and a reason without values). */
export type AuthDecision =
  | { ok: true; caller: Caller; via: 'certificate' | 'address' | 'certificate+address' | 'insecure' | 'token' }
  | { ok: false; code: 'PSL_AUTH_REQUIRED' | 'PSL_AUTH_INVALID' | 'PSL_FORBIDDEN'; reason: string };

/** Lower-case hex without separators, so `AB:CD…` and `abcd…` compare equal. */
export function normalizeFingerprint(fp: string): string {
  return fp.replace(/[:\s]/g, '').toLowerCase();
}

/**
 * A BlockList holding addresses and CIDRs (`10.0.0.0/8`, `::1`, `192.0.2.7`).
 * @param entries - allow-list entries
 * @throws TypeError naming the position of an entry that is not an address or CIDR
 */
export function buildAllowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  entries.forEach((entry, i) => {
    const [addr = '', prefix] = entry.split('/');
    const family = isIP(addr);
    if (family === 0) throw new TypeError(`allowFrom entry ${i} is not an IP address or CIDR`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(prefix), type);
  });
  return list;
}

/** Decides, once per connection, whether the peer is the feed's owner. */
export class FeedAuthenticator {
  readonly #owner: Caller;
  readonly #allow: BlockList | undefined;
  readonly #fingerprints: Set<string>;
  readonly #subjects: Array<Array<[string, string]>>;
  readonly #insecure: boolean;

  /** @param options - owner and the checks that prove it */
  constructor(options: FeedAuthOptions) {
    this.#owner = options.owner;
    this.#allow = options.allowFrom && options.allowFrom.length > 0 ? buildAllowList(options.allowFrom) : undefined;
    this.#fingerprints = new Set((options.clientFingerprints ?? []).map(normalizeFingerprint));
    this.#subjects = (options.clientSubjects ?? []).map(parseSubject);
    this.#insecure = options.insecure === true;
  }

  /** True when a certificate check is configured (the listener must then request client certificates). */
  get checksCertificate(): boolean {
    return this.#fingerprints.size > 0 || this.#subjects.length > 0;
  }

  /**
   * Whether a source address passes the allow-list (true when there is none): checked at TCP accept.
   * @param remote - the peer address
   */
  addressAllowed(remote: string): boolean {
    if (!this.#allow) return true;
    const addr = unmapV4(remote);
    const family = isIP(addr);
    return family !== 0 && this.#allow.check(addr, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * @param socket - the accepted socket (a TLSSocket after its handshake when the feed uses TLS)
   */
  authorize(socket: Socket | TLSSocket): AuthDecision {
    const checks: string[] = [];
    if (this.#allow) {
      const addr = unmapV4(socket.remoteAddress ?? '');
      const family = isIP(addr);
      if (family === 0 || !this.#allow.check(addr, family === 4 ? 'ipv4' : 'ipv6')) {
        return { ok: false, code: 'PSL_FORBIDDEN', reason: 'source address is not on the feed allow-list' };
      }
      checks.push('address');
    }
    if (this.checksCertificate) {
      const tls = socket as TLSSocket;
      if (typeof tls.getPeerCertificate !== 'function') return { ok: false, code: 'PSL_AUTH_REQUIRED', reason: 'feed requires a TLS client certificate' };
      const cert = tls.getPeerCertificate();
      if (!cert || Object.keys(cert).length === 0) return { ok: false, code: 'PSL_AUTH_REQUIRED', reason: 'no client certificate presented' };
      if (!tls.authorized) return { ok: false, code: 'PSL_AUTH_INVALID', reason: 'client certificate does not chain to the feed CA' };
      if (!this.#matches(cert)) return { ok: false, code: 'PSL_FORBIDDEN', reason: 'client certificate does not belong to the feed owner' };
      checks.push('certificate');
    }
    if (checks.length === 0) {
      return this.#insecure
        ? { ok: true, caller: this.#owner, via: 'insecure' }
        : { ok: false, code: 'PSL_AUTH_REQUIRED', reason: 'feed has no authentication configured' };
    }
    const via = checks.length === 2 ? 'certificate+address' : checks[0] === 'address' ? 'address' : 'certificate';
    return { ok: true, caller: this.#owner, via };
  }

  #matches(cert: PeerCertificate): boolean {
    if (cert.fingerprint256 && this.#fingerprints.has(normalizeFingerprint(cert.fingerprint256))) return true;
    const subject = cert.subject as unknown as Record<string, string | string[]> | undefined;
    if (!subject) return false;
    return this.#subjects.some((pairs) => pairs.every(([k, v]) => {
      const have = subject[k];
      return Array.isArray(have) ? have.includes(v) : have === v;
    }));
  }
}

/** `CN=a,O=b` → [['CN','a'],['O','b']]. Escaped commas are not supported (documented in README). */
export function parseSubject(subject: string): Array<[string, string]> {
  return subject.split(',').map((part) => {
    const eq = part.indexOf('=');
    return [part.slice(0, eq).trim().toUpperCase(), part.slice(eq + 1).trim()] as [string, string];
  }).filter(([k]) => k !== '');
}

function unmapV4(addr: string): string {
  return addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
}
