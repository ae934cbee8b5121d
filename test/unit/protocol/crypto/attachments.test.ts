// Attachment stream refusals: every rule of ENVELOPE.md §4 has a test that breaks it.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  decryptAttachment, encryptAttachment, CHUNK_BYTES, CHUNK_OVERHEAD, HEADER_BYTES, type AttachmentSecret,
} from '../../../../protocol/crypto/attachments.js';
import { cryptoReady } from '../../../../protocol/crypto/primitives.js';
import { collect, flip, pieces } from './fixtures.js';

const s = await cryptoReady();
const FULL = CHUNK_BYTES + CHUNK_OVERHEAD;

async function make(ref: string, n: number): Promise<{ plain: Uint8Array; blob: Uint8Array; secret: AttachmentSecret }> {
  const plain = randomBytes(n);
  const enc = await encryptAttachment(ref, pieces(plain, 9000));
  const blob = await collect(enc.ciphertext);
  return { plain, blob, secret: enc.finish() };
}

async function failure(secret: Omit<AttachmentSecret, 'chunk'>, blob: Uint8Array, piece = 5000): Promise<string> {
  try {
    await collect(decryptAttachment(secret, pieces(blob, piece)));
    return 'ok';
  } catch (err) {
    const e = err as { code?: string; reason?: string };
    return e.code === 'PSL_ENVELOPE_MALFORMED' ? e.reason ?? 'no-reason' : `unexpected ${String(err)}`;
  }
}

/** Hash and size as a sender would sign them for a given blob. */
function signedFor(secret: AttachmentSecret, blob: Uint8Array): AttachmentSecret {
  return { ...secret, size: blob.length, hash: s.crypto_generichash(32, blob, null) };
}

t.test('refusals', async (t) => {
  const { blob, secret } = await make('att_one', 3 * CHUNK_BYTES + 100);
  t.equal(blob.length, HEADER_BYTES + 3 * FULL + 100 + CHUNK_OVERHEAD);
  t.equal(await failure(secret, blob), 'ok', 'control');
  t.equal(await failure(secret, blob, 7), 'ok', 'control, in 7-byte pieces');

  // Third party: the signed hash and size catch edits, but chunk AEAD fails first.
  t.equal(await failure(secret, flip(blob, 3)), 'header', 'bit flip in the header');
  for (const at of [HEADER_BYTES + 10, HEADER_BYTES + FULL + 1, blob.length - 1]) {
    t.equal(await failure(secret, flip(blob, at)), 'chunk', `bit flip in chunk byte ${at}`);
  }
  const dropped = blob.subarray(0, HEADER_BYTES + 3 * FULL);
  t.equal(await failure(secret, dropped), 'truncated', 'final chunk dropped (signed size kept)');
  t.equal(await failure(signedFor(secret, dropped), dropped), 'truncated', 'final chunk dropped by the sender (size and hash re-signed)');
  const trailing = Uint8Array.from([...blob, 1, 2, 3]);
  t.equal(await failure(secret, trailing), 'trailing', 'bytes after TAG_FINAL');
  // The signed size then puts the extra bytes inside the last chunk, whose MAC fails.
  t.equal(await failure(signedFor(secret, trailing), trailing), 'chunk', 'bytes after TAG_FINAL counted in the signed size');
  const swapped = Uint8Array.from(blob);
  swapped.set(blob.subarray(HEADER_BYTES + FULL, HEADER_BYTES + 2 * FULL), HEADER_BYTES);
  swapped.set(blob.subarray(HEADER_BYTES, HEADER_BYTES + FULL), HEADER_BYTES + FULL);
  t.equal(await failure(signedFor(secret, swapped), swapped), 'chunk', 'chunks reordered');
  t.equal(await failure({ ...secret, ref: 'att_two' }, blob), 'chunk', 'ref bound in the first chunk AD');
  t.equal(await failure({ ...secret, hash: flip(secret.hash, 0) }, blob), 'hash', 'intact stream, wrong signed hash');
  t.equal(await failure({ ...secret, size: secret.size + 5 }, blob), 'truncated', 'stream shorter than the signed size');
  t.equal(await failure(secret, blob.subarray(0, 10)), 'truncated', 'not even a header');
});

t.test('chunks moved between attachments are refused', async (t) => {
  const one = await make('att_one', 2 * CHUNK_BYTES + 1);
  const two = await make('att_two', 2 * CHUNK_BYTES + 1);
  const mixed = Uint8Array.from(one.blob);
  mixed.set(two.blob.subarray(HEADER_BYTES + FULL, HEADER_BYTES + 2 * FULL), HEADER_BYTES + FULL);
  t.equal(await failure(signedFor(one.secret, mixed), mixed), 'chunk');
});

t.test('a TAG_FINAL chunk in the middle is refused', async (t) => {
  const key = s.crypto_secretstream_xchacha20poly1305_keygen();
  const { state, header } = s.crypto_secretstream_xchacha20poly1305_init_push(key);
  const c1 = s.crypto_secretstream_xchacha20poly1305_push(state, new Uint8Array(CHUNK_BYTES), 'att_mid', s.crypto_secretstream_xchacha20poly1305_TAG_FINAL);
  const c2 = s.crypto_secretstream_xchacha20poly1305_push(state, new Uint8Array(10), null, s.crypto_secretstream_xchacha20poly1305_TAG_FINAL);
  const blob = Uint8Array.from([...header, ...c1, ...c2]);
  const secret = { ref: 'att_mid', key, header, size: blob.length, hash: s.crypto_generichash(32, blob, null), chunk: CHUNK_BYTES };
  t.equal(await failure(secret, blob), 'trailing');
});

t.test('round trips at the chunk edges', async (t) => {
  for (const n of [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES]) {
    const { plain, blob, secret } = await make('att_edge', n);
    const out = await collect(decryptAttachment(secret, pieces(blob, 7777)));
    t.ok(Buffer.from(out).equals(Buffer.from(plain)), `${n} bytes`);
    t.equal(secret.size, HEADER_BYTES + n + Math.max(1, Math.ceil(n / CHUNK_BYTES)) * CHUNK_OVERHEAD);
  }
  const enc = await encryptAttachment('att_lazy', [new Uint8Array(3)]);
  t.throws(() => enc.finish(), { code: 'PSL_INTERNAL' }, 'finish before the stream is consumed');
  await t.rejects(encryptAttachment('bad ref', []), { code: 'PSL_BAD_REQUEST' });
});
