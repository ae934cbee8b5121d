/**
 * The client's local message store and replay cache, under the client directory.
 *
 * Messages are sealed at rest (XChaCha20-Poly1305 under the key file's storage key, AD = the
 * envelope id), one file per message, mode 0600: a stolen laptop without the passphrase yields
 * nothing. Attachments the user asked for are written in clear under files/ (that is their point).
 *
 * The replay cache is two-phase so a crash cannot lose mail: openEnvelope `remember`s an id
 * before decrypting, but the id is only written to disk (replay/, O_EXCL) once the message is
 * stored. A crash in between leaves no marker, the gateway re-delivers (no ack was sent), and the
 * message opens normally; a replay after storage is refused.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReplayCache } from '../protocol/crypto/envelope-verify.js';
import { blake2b256, cryptoReady, xchachaDecrypt, xchachaEncrypt } from '../protocol/crypto/primitives.js';
import { fromBase64Url } from '../protocol/crypto/base64url.js';
import { createDurable, writeDurable } from './durable-write.js';

/** An attachment of a stored message (no key material: the file was decrypted at receipt). */
export interface StoredAttachment {
  ref: string;
  name: string;
  mime: string;
  /** Plaintext bytes written. */
  bytes?: number;
  /** Where the decrypted file was saved, when it was. */
  savedAs?: string;
  /** Why it could not be fetched or decrypted, when it was not. */
  error?: string;
}

/** A message as the client keeps it. */
export interface StoredMessage {
  /** base64url envelope id. */
  id: string;
  class: 'message' | 'receipt';
  direction: 'in' | 'out';
  from: { participant: string; device: string };
  to: string[];
  /** Sender clock. */
  ts: number;
  /** Gateway's receive time (what revocation is judged against). */
  receivedAt: number;
  type: string;
  subject?: string;
  /** Free text. */
  text?: string;
  /** Structured body, e.g. `{ contentType: 'application/fhir+json', resource }`. */
  body?: unknown;
  attachments: StoredAttachment[];
  /** For receipts: the id of the message acknowledged. */
  ref?: string;
  /** For receipts: the hash of the envelope the reader opened. */
  refHash?: string;
  replyTo?: string | null;
  thread?: string;
  /** Signature, certificate chain, commitment and inner/outer checks all passed. */
  verified: boolean;
  /** How far the sender's identity key is trusted: first use, known pin, or safety number compared. */
  senderTrust: 'new' | 'known' | 'confirmed';
  /** base64url BLAKE2b-256 of the canonical envelope bytes (what read receipts name). */
  envelopeHash: string;
  /** The gateway's `accepted` receipt (receive time) checked against its pinned service key. */
  gatewayReceipt?: 'verified' | 'unverified';
  /** Read receipts received for an outgoing message. */
  readBy?: Array<{ participant: string; device: string; at: number }>;
  /** Recipient devices that refused an outgoing message, from their verified `rejected` receipts. */
  rejectedBy?: Array<{ participant: string; device: string; reason: string; at: number }>;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** Local sealed message store plus replay cache. */
export class MessageStore implements ReplayCache {
  readonly dir: string;
  readonly #key: Uint8Array;
  readonly #pending = new Map<string, number>();

  /**
   * @param dir - client directory (messages/, replay/, files/ are created, mode 0700)
   * @param storageKey - 32-byte key from the key file
   */
  constructor(dir: string, storageKey: Uint8Array) {
    this.dir = dir;
    this.#key = storageKey;
    for (const sub of ['messages', 'replay', 'files']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  }

  /** Directory where attachments of message `id` are saved. */
  filesDir(id: string): string {
    const d = join(this.dir, 'files', id);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  }

  /** @inheritDoc */
  async remember(sender: string, id: string, until: number): Promise<boolean> {
    const name = await replayName(sender, id);
    if (this.#pending.has(name) || existsSync(join(this.dir, 'replay', name))) return false;
    this.#pending.set(name, until);
    return true;
  }

  /** Has this message already been stored (a re-delivery whose ack was lost)? */
  async has(id: string): Promise<boolean> {
    return existsSync(join(this.dir, 'messages', await fileName(id)));
  }

  /**
   * Store a message durably, then commit its replay marker.
   * @param m - the message
   */
  async put(m: StoredMessage): Promise<void> {
    const s = await cryptoReady();
    const nonce = s.randombytes_buf(24);
    const name = await fileName(m.id);
    const sealed = xchachaEncrypt(s, this.#key, nonce, utf8.encode(m.id), utf8.encode(JSON.stringify(m)));
    writeDurable(join(this.dir, 'messages', name), JSON.stringify({ id: m.id, nonce: Buffer.from(nonce).toString('base64url'), sealed: Buffer.from(sealed).toString('base64url') }));
    if (m.direction === 'in') {
      const marker = await replayName(m.from.participant, m.id);
      const until = this.#pending.get(marker) ?? m.ts;
      this.#pending.delete(marker);
      try {
        createDurable(join(this.dir, 'replay', marker), String(until));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }

  /** Forget an id `remember`ed for an envelope that was then refused (nothing stored). */
  async release(sender: string, id: string): Promise<void> {
    this.#pending.delete(await replayName(sender, id));
  }

  /** One message by id. */
  async get(id: string): Promise<StoredMessage | undefined> {
    const path = join(this.dir, 'messages', await fileName(id));
    return existsSync(path) ? this.#read(path) : undefined;
  }

  /** Every stored message, oldest first (by gateway receive time). */
  async list(): Promise<StoredMessage[]> {
    const dir = join(this.dir, 'messages');
    const out: StoredMessage[] = [];
    for (const f of readdirSync(dir)) if (f.endsWith('.msg')) out.push(await this.#read(join(dir, f)));
    return out.sort((a, b) => a.receivedAt - b.receivedAt || a.ts - b.ts);
  }

  async #read(path: string): Promise<StoredMessage> {
    const s = await cryptoReady();
    const doc = JSON.parse(readFileSync(path, 'utf8')) as { id: string; nonce: string; sealed: string };
    const plain = xchachaDecrypt(s, this.#key, fromBase64Url(doc.nonce) ?? new Uint8Array(0), utf8.encode(doc.id), fromBase64Url(doc.sealed) ?? new Uint8Array(0));
    if (!plain) throw new Error(`local message ${path} failed its integrity check`);
    return JSON.parse(utf8d.decode(plain)) as StoredMessage;
  }
}

async function fileName(id: string): Promise<string> {
  const s = await cryptoReady();
  return `${Buffer.from(blake2b256(s, utf8.encode(`msg\u0000${id}`))).toString('hex').slice(0, 40)}.msg`;
}

async function replayName(sender: string, id: string): Promise<string> {
  const s = await cryptoReady();
  return Buffer.from(blake2b256(s, utf8.encode(`${sender}\u0000${id}`))).toString('hex');
}
