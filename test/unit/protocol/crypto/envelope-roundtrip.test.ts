import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sealEnvelope, type SealAttachment } from '../../../../protocol/crypto/envelope-seal.js';
import { openEnvelope } from '../../../../protocol/crypto/envelope-open.js';
import { verifyOuter, MemoryReplayCache } from '../../../../protocol/crypto/envelope-verify.js';
import { decodeEnvelope, encodeEnvelope, compareKids } from '../../../../protocol/crypto/envelope-codec.js';
import { encryptAttachment, decryptAttachment, CHUNK_BYTES } from '../../../../protocol/crypto/attachments.js';
import { WRAP_BYTES } from '../../../../protocol/crypto/envelope-types.js';
import { ALL_SUITES, collect, device, directory, NOW, pieces, type Device } from './fixtures.js';

const participants = ['chu-lyon', 'mutuelle-x', 'mutuelle-x', 'labo-bio', 'pharma-3'];

t.test('seal → encode → decode → open for 1..5 devices, both suites, 0..3 attachments', async (t) => {
  const sender = await device('chu-lyon', 'his-01');
  const others: Device[] = [];
  for (const [i, p] of participants.entries()) others.push(await device(p, `dev-${i}`));
  const lookup = directory([sender]);
  // Sizes that hit the chunking edges: empty, one byte, exactly one chunk, a chunk and a bit.
  const sizes = [0, 1, CHUNK_BYTES, CHUNK_BYTES * 2 + 17];

  for (const suite of ALL_SUITES) {
    for (let n = 1; n <= 5; n++) for (let nAtt = 0; nAtt <= 3; nAtt++) {
      const plains = Array.from({ length: nAtt }, (_, i) => randomBytes(sizes[(i + n) % sizes.length]!));
      const atts: SealAttachment[] = [];
      const blobs: Uint8Array[] = [];
      for (const [i, plain] of plains.entries()) {
        const enc = await encryptAttachment(`att_${n}_${nAtt}_${i}`, pieces(plain, 1000 + i * 7777));
        blobs.push(await collect(enc.ciphertext));
        atts.push({ ...enc.finish(), name: `doc-${i}.pdf`, mime: 'application/pdf' });
      }
      const recipients = others.slice(0, n);
      const env = await sealEnvelope({
        suite, sender: sender.asSender, recipients: recipients.map((r) => r.asRecipient), now: NOW,
        content: { type: 'claim.submit', subject: 'Demande d’accord préalable', body: { resourceType: 'Claim', n, nAtt } },
        attachments: atts,
      });
      const wire = encodeEnvelope(env);
      const decoded = decodeEnvelope(wire);
      t.same(encodeEnvelope(decoded), wire, `${suite} n=${n} attachments=${nAtt}: codec round trip is byte-identical`);
      t.ok(env.to.every((r) => r.wrap.length === WRAP_BYTES[suite]), 'wrap size per suite');
      t.ok(env.to.every((r, i) => i === 0 || compareKids(env.to[i - 1]!.kid, r.kid) < 0), 'recipients sorted by kid');
      t.equal((env.payload.length - 16) % 256, 0, 'payload padded to 256');

      const outer = await verifyOuter(decoded, lookup, { suites: ALL_SUITES, receivedAt: NOW, now: NOW });
      t.equal(outer.ok, true, 'verifyOuter without private keys');

      for (const r of recipients) {
        const res = await openEnvelope(decoded, {
          suites: ALL_SUITES, senderLookup: lookup, replay: new MemoryReplayCache(), recipient: r.opening, receivedAt: NOW, now: NOW + 1000,
        });
        if (!res.ok) {
          t.fail(`${suite} n=${n} attachments=${nAtt} ${r.device}: refused ${res.reason}`);
          continue;
        }
        t.equal(res.inner.type, 'claim.submit');
        t.equal(res.inner.subject, 'Demande d’accord préalable', 'UTF-8 survives');
        t.same(res.inner.body, { resourceType: 'Claim', n, nAtt });
        t.equal(res.attachments.length, nAtt);
        for (const [i, a] of res.attachments.entries()) {
          const plain = await collect(decryptAttachment(a, pieces(blobs[i]!, 4096 + i)));
          t.ok(Buffer.from(plain).equals(plains[i]!), `attachment ${i} (${plains[i]!.length} bytes) decrypts`);
        }
      }
    }
  }
});

t.test('attachments stream through disk in bounded pieces (128 MiB, generated lazily)', async (t) => {
  const total = 128 * 1024 * 1024;
  async function* lazy(): AsyncGenerator<Uint8Array> {
    const block = new Uint8Array(1 << 20).fill(7);
    for (let i = 0; i < total; i += block.length) yield block;
  }
  const dir = await mkdtemp(join(tmpdir(), 'psl-att-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'blob');
  const enc = await encryptAttachment('att_big', lazy());
  let maxCipherPiece = 0;
  async function* measured(): AsyncGenerator<Uint8Array> {
    for await (const c of enc.ciphertext) {
      maxCipherPiece = Math.max(maxCipherPiece, c.length);
      yield c;
    }
  }
  await pipeline(Readable.from(measured()), createWriteStream(file));
  const secret = enc.finish();
  t.equal(secret.size, 24 + total + (total / CHUNK_BYTES) * 17, 'an exact multiple ends in a full TAG_FINAL chunk, not an empty one');
  let out = 0;
  let maxPlainPiece = 0;
  for await (const p of decryptAttachment(secret, createReadStream(file, { highWaterMark: 1 << 20 }))) {
    out += p.length;
    maxPlainPiece = Math.max(maxPlainPiece, p.length);
  }
  t.equal(out, total);
  t.equal(maxCipherPiece, CHUNK_BYTES + 17, 'ciphertext leaves one chunk at a time');
  t.equal(maxPlainPiece, CHUNK_BYTES, 'plaintext leaves one chunk at a time');
});
