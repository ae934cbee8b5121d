/**
 * Attachment ciphertext blobs (ENVELOPE.md §4): uploaded before the envelope that references
 * them, streamed to disk chunk by chunk (never buffered whole), checked against the declared size
 * and BLAKE2b-256 hash without decrypting anything, then renamed into place. Metadata (owner,
 * size, hash, who may read) lives in the RelayStore; the bytes on disk are ciphertext.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, type ReadStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { fromBase64Url, toBase64Url } from '../../protocol/crypto/base64url.js';
import { ATTACHMENT_REF } from '../../protocol/crypto/envelope-types.js';
import { cryptoReady, equalBytes } from '../../protocol/crypto/primitives.js';
import type { RelayPut, RelayStore } from '../core/relay-store.js';

/** Blob metadata as stored. */
export interface BlobMeta {
  ref: string;
  owner: string;
  size: number;
  /** base64url BLAKE2b-256 of the ciphertext. */
  hash: string;
  /** Participants granted read access by an accepted envelope. */
  readers: string[];
}

/** Why an upload was refused. */
export type BlobRejection = 'ref' | 'size' | 'hash' | 'too-big' | 'exists';

/** Upload outcome as a value. */
export type UploadResult = { ok: true; meta: BlobMeta; duplicate: boolean } | { ok: false; reason: BlobRejection };

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();
/** Unreferenced blobs and grants live this long (the offline TTL). */
const BLOB_TTL_MS = 30 * 24 * 3600 * 1000;

/** Disk-backed blob store. */
export class BlobStore {
  readonly #dir: string;
  readonly #store: RelayStore;
  readonly #maxBytes: number;

  /**
   * @param options.dir - directory for blob files (created, mode 0700)
   * @param options.store - metadata
   * @param options.maxBytes - upload cap
   */
  constructor(options: { dir: string; store: RelayStore; maxBytes: number }) {
    this.#dir = options.dir;
    this.#store = options.store;
    this.#maxBytes = options.maxBytes;
    mkdirSync(join(this.#dir, 'tmp'), { recursive: true, mode: 0o700 });
  }

  /** Where blob files live (operators, the blindness test). */
  get dir(): string {
    return this.#dir;
  }

  /**
   * Stream an upload to disk, hashing as it goes; keep it only if size and hash match.
   * @param owner - uploading participant
   * @param declared - ref, size and base64url hash the client declares (the values its envelope will sign)
   * @param body - the request body stream
   */
  async upload(owner: string, declared: { ref: string; size: number; hash: string }, body: Readable): Promise<UploadResult> {
    const hash = fromBase64Url(declared.hash);
    if (!ATTACHMENT_REF.test(declared.ref)) return drain(body, 'ref');
    if (hash?.length !== 32) return drain(body, 'hash');
    if (!Number.isSafeInteger(declared.size) || declared.size < 1) return drain(body, 'size');
    if (declared.size > this.#maxBytes) return drain(body, 'too-big');
    const existing = await this.meta(declared.ref);
    if (existing) {
      await drainStream(body);
      return existing.owner === owner && existing.size === declared.size && existing.hash === declared.hash
        ? { ok: true, meta: existing, duplicate: true } : { ok: false, reason: 'exists' };
    }
    const s = await cryptoReady();
    const state = s.crypto_generichash_init(null, 32);
    const tmp = join(this.#dir, 'tmp', randomBytes(12).toString('hex'));
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
    let seen = 0;
    let refused: BlobRejection | undefined;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        seen += chunk.length;
        // Past the declared size nothing more reaches the disk; the rest is read and dropped so
        // the refusal can still be answered (the upload cap bounds how much that can be).
        if (seen > declared.size) {
          refused = 'size';
          if (seen > this.#maxBytes) body.destroy();
          continue;
        }
        s.crypto_generichash_update(state, chunk);
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
      }
      out.end();
      await finished(out);
      if (refused === undefined && seen !== declared.size) refused = 'size';
      if (refused === undefined && !equalBytes(s, s.crypto_generichash_final(state, 32), hash)) refused = 'hash';
      if (refused !== undefined) {
        await rm(tmp, { force: true });
        return { ok: false, reason: refused };
      }
      await syncFile(tmp);
      await rename(tmp, this.#path(declared.ref));
    } catch (err) {
      out.destroy();
      await rm(tmp, { force: true });
      throw err;
    }
    const meta: BlobMeta = { ref: declared.ref, owner, size: declared.size, hash: declared.hash, readers: [] };
    await this.#store.put(metaKey(declared.ref), utf8.encode(JSON.stringify(meta)), Date.now() + BLOB_TTL_MS);
    return { ok: true, meta, duplicate: false };
  }

  /** Metadata of a stored blob. */
  async meta(ref: string): Promise<BlobMeta | undefined> {
    if (!ATTACHMENT_REF.test(ref)) return undefined;
    const raw = await this.#store.get(metaKey(ref));
    return raw && existsSync(this.#path(ref)) ? (JSON.parse(utf8d.decode(raw)) as BlobMeta) : undefined;
  }

  /**
   * Does the sender own a blob with exactly this size and hash (the envelope's signed values)?
   * @param owner - sender participant
   * @param a - outer attachment ref
   */
  async matches(owner: string, a: { ref: string; size: number; hash: Uint8Array }): Promise<boolean> {
    const m = await this.meta(a.ref);
    return m !== undefined && m.owner === owner && m.size === a.size && m.hash === toBase64Url(a.hash);
  }

  /**
   * The metadata writes that let recipients of an accepted envelope read its blobs. The caller
   * commits them with its own writes (Relay.accept: with the envelope and its receipt).
   * @param refs - attachment refs
   * @param readers - recipient participants
   * @param until - envelope expiry
   */
  async grantWrites(refs: readonly string[], readers: readonly string[], until: number): Promise<RelayPut[]> {
    const writes: RelayPut[] = [];
    for (const ref of refs) {
      const m = await this.meta(ref);
      if (!m) continue;
      m.readers = [...new Set([...m.readers, ...readers])];
      writes.push({ key: metaKey(ref), value: utf8.encode(JSON.stringify(m)), expiresAt: Math.max(until, Date.now() + BLOB_TTL_MS) });
    }
    return writes;
  }

  /**
   * A read stream of the blob for its owner or a granted reader.
   * @returns undefined when absent or not readable by `participant` (same answer: no disclosure)
   */
  async open(participant: string, ref: string): Promise<{ meta: BlobMeta; stream: ReadStream } | undefined> {
    const m = await this.meta(ref);
    if (!m || (m.owner !== participant && !m.readers.includes(participant))) return undefined;
    return { meta: m, stream: createReadStream(this.#path(ref)) };
  }

  #path(ref: string): string {
    return join(this.#dir, ref);
  }
}

function metaKey(ref: string): string {
  return `blob:${ref}`;
}

async function drain(body: Readable, reason: BlobRejection): Promise<UploadResult> {
  // Discard a small refused body so the answer reaches the client; cut an oversized one off.
  if (reason === 'too-big') body.destroy();
  else body.resume();
  return { ok: false, reason };
}

async function drainStream(body: Readable): Promise<void> {
  for await (const _ of body) { /* discard: a duplicate upload keeps the original */ }
}

async function syncFile(path: string): Promise<void> {
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
