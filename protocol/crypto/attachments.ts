/**
 * Attachment encryption (ENVELOPE.md §4): libsodium secretstream in 64 KiB plaintext chunks, the
 * ref in the first chunk's AD, TAG_FINAL required on the last chunk and nothing after it. Both
 * directions stream over async iterables, so a 1 GiB file never sits in memory.
 *
 * Blob layout (what the gateway stores and hashes): header (24 bytes) ‖ chunk ‖ chunk ‖ …,
 * every chunk but the last being 65,536 + 17 bytes.
 */
import { GatewayError } from '../errors.js';
import type { Sodium } from './sodium.js';
import { ATTACHMENT_REF, LIMITS } from './envelope-types.js';
import { cryptoReady, equalBytes } from './primitives.js';

/** Plaintext bytes per chunk. */
export const CHUNK_BYTES = 65536;
/** secretstream overhead per chunk (tag byte + MAC). */
export const CHUNK_OVERHEAD = 17;
/** secretstream header size. */
export const HEADER_BYTES = 24;

/** What the sender puts inside the payload (and, for ref/size/hash, outside) about an attachment. */
export interface AttachmentSecret {
  readonly ref: string;
  readonly key: Uint8Array;
  readonly header: Uint8Array;
  /** Ciphertext bytes, header included. */
  readonly size: number;
  /** BLAKE2b-256 of the ciphertext. */
  readonly hash: Uint8Array;
  readonly chunk: number;
}

/** Why an attachment stream was refused. */
export type AttachmentFailure = 'header' | 'chunk' | 'truncated' | 'trailing' | 'size' | 'hash';

/** A refused attachment stream: code PSL_ENVELOPE_MALFORMED plus a stable reason. */
export class AttachmentError extends GatewayError {
  readonly reason: AttachmentFailure;

  /**
   * @param reason - which rule the stream broke
   * @param ref - the attachment ref (an id, safe to log)
   */
  constructor(reason: AttachmentFailure, ref: string) {
    super('PSL_ENVELOPE_MALFORMED', `attachment ${ref}: ${reason}`);
    this.reason = reason;
  }
}

/** Accumulates incoming pieces and hands out exact-size blocks without re-copying everything. */
class ByteQueue {
  private parts: Uint8Array[] = [];
  length = 0;

  push(b: Uint8Array): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.length += b.length;
  }

  take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const head = this.parts[0]!;
      const use = Math.min(head.length, n - off);
      out.set(head.subarray(0, use), off);
      off += use;
      if (use === head.length) this.parts.shift();
      else this.parts[0] = head.subarray(use);
    }
    this.length -= n;
    return out;
  }
}

/** An attachment being encrypted: pull `ciphertext` to the blob store, then call `finish()`. */
export interface AttachmentEncryption {
  readonly ref: string;
  /** header ‖ chunks, produced as the source is read. Iterate once. */
  readonly ciphertext: AsyncIterable<Uint8Array>;
  /** Key, header, size and hash; throws until `ciphertext` has been fully consumed. */
  finish(): AttachmentSecret;
}

/**
 * Start encrypting an attachment.
 * @param ref - attachment ref (`att_…`), bound into the first chunk's AD
 * @param source - plaintext, in pieces of any size
 */
export async function encryptAttachment(ref: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<AttachmentEncryption> {
  if (!ATTACHMENT_REF.test(ref)) throw new GatewayError('PSL_BAD_REQUEST', 'attachment ref: not a valid identifier');
  const s = await cryptoReady();
  const key = s.crypto_secretstream_xchacha20poly1305_keygen();
  const { state, header } = s.crypto_secretstream_xchacha20poly1305_init_push(key);
  const hasher = s.crypto_generichash_init(null, 32);
  const adFirst = new TextEncoder().encode(ref);
  let size = 0;
  let done: AttachmentSecret | undefined;

  async function* run(): AsyncGenerator<Uint8Array> {
    const emit = (c: Uint8Array): Uint8Array => {
      s.crypto_generichash_update(hasher, c);
      size += c.length;
      if (size > LIMITS.maxAttachmentBytes) throw new GatewayError('PSL_PAYLOAD_TOO_LARGE', `attachment ${ref}: exceeds the format limit`);
      return c;
    };
    yield emit(header);
    const q = new ByteQueue();
    let first = true;
    const push = (plain: Uint8Array, tag: number): Uint8Array => {
      const c = s.crypto_secretstream_xchacha20poly1305_push(state, plain, first ? adFirst : null, tag);
      first = false;
      return emit(c);
    };
    for await (const piece of source) {
      q.push(piece);
      // Keep at least one byte back: only the end of the source says which chunk is final.
      while (q.length > CHUNK_BYTES) yield push(q.take(CHUNK_BYTES), s.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    }
    yield push(q.take(q.length), s.crypto_secretstream_xchacha20poly1305_TAG_FINAL);
    done = { ref, key, header, size, hash: s.crypto_generichash_final(hasher, 32), chunk: CHUNK_BYTES };
  }

  return {
    ref,
    ciphertext: run(),
    finish(): AttachmentSecret {
      if (done === undefined) throw new GatewayError('PSL_INTERNAL', `attachment ${ref}: ciphertext not fully consumed`);
      return done;
    },
  };
}

/**
 * Decrypt an attachment blob as it streams in. Yields plaintext chunk by chunk, each already
 * authenticated by secretstream; the whole-blob checks (TAG_FINAL seen, no trailing bytes, size and
 * hash equal to the signed values) complete when iteration ends, so treat the output as
 * provisional until the loop finishes without throwing.
 * @param secret - ref, key, header, size, hash from the opened envelope
 * @param blob - header ‖ chunks, in pieces of any size
 * @throws AttachmentError with a reason
 */
export async function* decryptAttachment(
  secret: Omit<AttachmentSecret, 'chunk'>,
  blob: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const s = await cryptoReady();
  const fail = (reason: AttachmentFailure): AttachmentError => new AttachmentError(reason, secret.ref);
  const hasher = s.crypto_generichash_init(null, 32);
  const q = new ByteQueue();
  let seen = 0;
  let consumed = 0;
  let state: ReturnType<Sodium['crypto_secretstream_xchacha20poly1305_init_pull']> | undefined;
  let ad: Uint8Array | null = new TextEncoder().encode(secret.ref);
  let final = false;

  const pull = (c: Uint8Array): Uint8Array => {
    const r = s.crypto_secretstream_xchacha20poly1305_pull(state!, c, ad);
    ad = null;
    if (r === false) throw fail('chunk');
    if (r.tag === s.crypto_secretstream_xchacha20poly1305_TAG_FINAL) final = true;
    else if (r.tag !== s.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) throw fail('chunk');
    return r.message;
  };

  for await (const piece of blob) {
    // The signed size fixes every chunk boundary; bytes past it are never buffered.
    const room = secret.size - seen;
    const overflow = piece.length > room;
    const p = overflow ? piece.subarray(0, room) : piece;
    seen += p.length;
    s.crypto_generichash_update(hasher, p);
    q.push(p);
    if (state === undefined && q.length >= HEADER_BYTES) {
      const header = q.take(HEADER_BYTES);
      consumed = HEADER_BYTES;
      if (!equalBytes(s, header, secret.header)) throw fail('header');
      state = s.crypto_secretstream_xchacha20poly1305_init_pull(header, secret.key);
    }
    while (state !== undefined && !final) {
      const n = Math.min(CHUNK_BYTES + CHUNK_OVERHEAD, secret.size - consumed);
      if (n <= 0 || q.length < n) break;
      const plain = pull(q.take(n));
      consumed += n;
      if (final && consumed < secret.size) throw fail('trailing');
      yield plain;
    }
    if (overflow) throw fail(final ? 'trailing' : 'size');
  }
  if (state === undefined || !final || seen !== secret.size) throw fail('truncated');
  if (!equalBytes(s, s.crypto_generichash_final(hasher, 32), secret.hash)) throw fail('hash');
}
