/**
 * Sending: resolve recipient devices through the checked directory view, encrypt each attachment
 * with secretstream to a temporary ciphertext file, upload it (ciphertext only) before the
 * envelope, then seal, sign and submit the envelope (ENVELOPE.md §3–4).
 */
import { createReadStream, mkdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { encryptAttachment } from '../protocol/crypto/attachments.js';
import { toBase64Url } from '../protocol/crypto/base64url.js';
import { encodeEnvelope, toWire } from '../protocol/crypto/envelope-codec.js';
import { sealEnvelope, type SealAttachment, type SealContent, type SealRecipient } from '../protocol/crypto/envelope-seal.js';
import { SUITES, type Envelope, type EnvelopeClass, type Suite } from '../protocol/crypto/envelope-types.js';
import { blake2b256, cryptoReady } from '../protocol/crypto/primitives.js';
import type { GatewayApi } from './gateway-api.js';
import { receiptValid } from './gateway-receipts.js';

/** A file to attach. */
export interface OutgoingFile {
  readonly path: string;
  /** Name shown to the recipient (default: the file's base name). */
  readonly name?: string;
  readonly mime?: string;
}

/** What one send needs. */
export interface SendRequest {
  readonly sender: { participant: string; device: string; sign: { publicKey: Uint8Array; privateKey: Uint8Array } };
  readonly recipients: readonly SealRecipient[];
  readonly content: SealContent;
  readonly files?: readonly OutgoingFile[];
  readonly class?: EnvelopeClass;
  /** Scratch directory for attachment ciphertext (deleted after upload). */
  readonly tmpDir: string;
  /** Pinned gateway service key (base64url), to check the accepted receipt. */
  readonly serviceKey?: string | undefined;
}

/** A submitted envelope. */
export interface Sent {
  readonly envelope: Envelope;
  /** base64url id. */
  readonly id: string;
  /** base64url BLAKE2b-256 of the canonical envelope bytes. */
  readonly envelopeHash: string;
  /** The gateway's answer (its signed `accepted` receipt). */
  readonly accepted: Record<string, unknown>;
  /** The receipt is signed by the pinned service key and names this envelope's id and hash. */
  readonly acceptedVerified: boolean;
  readonly attachments: ReadonlyArray<{ ref: string; name: string; mime: string; size: number }>;
}

const MIME: Readonly<Record<string, string>> = {
  '.pdf': 'application/pdf', '.json': 'application/json', '.txt': 'text/plain', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.xml': 'application/xml', '.dcm': 'application/dicom',
};

/**
 * The hybrid (X-Wing) suite when every recipient device has an X-Wing key, else classic: mixing
 * PQ and classic wraps in one envelope would throw the PQ protection away (age's rule).
 */
export function chooseSuite(recipients: readonly SealRecipient[]): Suite {
  return recipients.every((r) => r.xwing !== undefined) ? SUITES.hybrid : SUITES.classic;
}

/**
 * Encrypt, upload and submit.
 * @param api - gateway client
 * @param req - sender keys, recipient devices, content, files
 */
export async function sendEnvelope(api: GatewayApi, req: SendRequest): Promise<Sent> {
  const s = await cryptoReady();
  mkdirSync(req.tmpDir, { recursive: true, mode: 0o700 });
  const attachments: SealAttachment[] = [];
  for (const f of req.files ?? []) attachments.push(await uploadFile(api, f, req.tmpDir));
  const envelope = await sealEnvelope({
    suite: chooseSuite(req.recipients), class: req.class ?? 'message', sender: req.sender,
    recipients: req.recipients, content: req.content, attachments,
  });
  const accepted = await api.submit(toWire(envelope));
  const id = toBase64Url(envelope.id);
  const envelopeHash = toBase64Url(blake2b256(s, encodeEnvelope(envelope)));
  return {
    envelope, id, envelopeHash, accepted, acceptedVerified: await receiptValid(accepted.receipt, req.serviceKey, { id, hash: envelopeHash }),
    attachments: attachments.map((a) => ({ ref: a.ref, name: a.name, mime: a.mime, size: a.size })),
  };
}

async function uploadFile(api: GatewayApi, f: OutgoingFile, tmpDir: string): Promise<SealAttachment> {
  const s = await cryptoReady();
  const ref = `att_${toBase64Url(s.randombytes_buf(16))}`;
  const tmp = join(tmpDir, `${ref}.enc`);
  const enc = await encryptAttachment(ref, createReadStream(f.path) as AsyncIterable<Uint8Array>);
  const out = await open(tmp, 'wx', 0o600);
  try {
    for await (const chunk of enc.ciphertext) await out.write(chunk);
    await out.sync();
  } finally {
    await out.close();
  }
  try {
    const secret = enc.finish();
    await api.uploadBlob({ ref, size: secret.size, hash: toBase64Url(secret.hash) }, tmp);
    const name = f.name ?? basename(f.path);
    return { ...secret, name, mime: f.mime ?? MIME[extname(name).toLowerCase()] ?? 'application/octet-stream' };
  } finally {
    rmSync(tmp, { force: true });
  }
}
