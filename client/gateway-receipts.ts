/**
 * Checking the gateway's signed receipts (ENVELOPE.md §5) on the client: `accepted` is the
 * evidence of submission and the receive time that revocation is judged against; `delivered` says
 * the gateway saw a recipient device acknowledge. The signed bytes restate
 * gateway/relay/receipts.ts (the client may import only gateway/crypto and gateway/core); a unit
 * test proves both agree. The service key is pinned at registration (first use) in the key file.
 */
import { fromBase64Url, toBase64Url } from '../gateway/crypto/base64url.js';
import { kidOf } from '../gateway/crypto/keys.js';
import { be64, pae } from '../gateway/crypto/pae.js';
import { cryptoReady } from '../gateway/crypto/primitives.js';
import { ed25519Verify } from '../gateway/crypto/signature.js';

type Json = Record<string, unknown>;

/** The bytes the service key signs for a receipt, or undefined when a field is missing. */
export function receiptBytes(r: Json): Uint8Array | undefined {
  const str = (v: unknown): v is string => typeof v === 'string';
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (r.type === 'accepted' && str(r.id) && str(r.sender) && num(r.receivedAt) && str(r.hash) && str(r.kid)) {
    return pae(['passerelle/receipt/accepted/v1', r.id, r.sender, be64(r.receivedAt), r.hash, r.kid]);
  }
  if (r.type === 'delivered' && str(r.id) && str(r.sender) && str(r.participant) && str(r.device) && num(r.deliveredAt) && str(r.kid)) {
    return pae(['passerelle/receipt/delivered/v1', r.id, r.sender, r.participant, r.device, be64(r.deliveredAt), r.kid]);
  }
  return undefined;
}

/**
 * Is this a receipt signed by the pinned service key?
 * @param r - receipt JSON as the gateway sent it
 * @param serviceKey - base64url Ed25519 public key pinned at registration
 * @param expect - fields that must match (our envelope id, hash)
 */
export async function receiptValid(r: unknown, serviceKey: string | undefined, expect: { id?: string; hash?: string } = {}): Promise<boolean> {
  if (serviceKey === undefined || typeof r !== 'object' || r === null) return false;
  const o = r as Json;
  const s = await cryptoReady();
  const key = fromBase64Url(serviceKey);
  const sig = typeof o.sig === 'string' ? fromBase64Url(o.sig) : undefined;
  const bytes = receiptBytes(o);
  if (key?.length !== 32 || sig?.length !== 64 || !bytes) return false;
  if (o.kid !== toBase64Url(kidOf(s, key))) return false;
  if ((expect.id !== undefined && o.id !== expect.id) || (expect.hash !== undefined && o.hash !== expect.hash)) return false;
  return ed25519Verify(s, sig, bytes, key);
}
