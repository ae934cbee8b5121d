/**
 * Checking the gateway's signed receipts (ENVELOPE.md §5) on the client: `accepted` is the
 * evidence of submission and the receive time that revocation is judged against; `delivered` says
 * the gateway saw a recipient device acknowledge. The format is protocol/receipts.ts, the code the
 * gateway signs them with. The service key is pinned at registration (first use) in the key file.
 */
import { fromBase64Url, toBase64Url } from '../protocol/crypto/base64url.js';
import { kidOf } from '../protocol/crypto/keys.js';
import { cryptoReady } from '../protocol/crypto/primitives.js';
import { receiptFromWire, verifyReceipt } from '../protocol/receipts.js';

/**
 * Is this a receipt signed by the pinned service key?
 * @param r - receipt JSON as the gateway sent it
 * @param serviceKey - base64url Ed25519 public key pinned at registration
 * @param expect - fields that must match (our envelope id, hash)
 */
export async function receiptValid(r: unknown, serviceKey: string | undefined, expect: { id?: string; hash?: string } = {}): Promise<boolean> {
  const receipt = receiptFromWire(r);
  const key = serviceKey === undefined ? undefined : fromBase64Url(serviceKey);
  if (!receipt || key?.length !== 32 || fromBase64Url(receipt.sig)?.length !== 64) return false;
  const s = await cryptoReady();
  if (receipt.kid !== toBase64Url(kidOf(s, key))) return false;
  if ((expect.id !== undefined && receipt.id !== expect.id) || (expect.hash !== undefined && (receipt.type !== 'accepted' || receipt.hash !== expect.hash))) return false;
  return verifyReceipt(s, receipt, key);
}
