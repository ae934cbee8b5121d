import t from 'tap';
import { receiptValid } from '../../../client/gateway-receipts.js';
import { toBase64Url } from '../../../protocol/crypto/base64url.js';
import { kidOf } from '../../../protocol/crypto/keys.js';
import { cryptoReady } from '../../../protocol/crypto/primitives.js';
import { signReceipt, type AcceptedReceipt, type DeliveredReceipt } from '../../../protocol/receipts.js';

t.test('receiptValid takes the receipts the relay signs and refuses altered ones', async (t) => {
  const s = await cryptoReady();
  const key = s.crypto_sign_keypair();
  const other = s.crypto_sign_keypair();
  const pinned = toBase64Url(key.publicKey);
  const kid = toBase64Url(kidOf(s, key.publicKey));
  const accepted = signReceipt<AcceptedReceipt>(s, { type: 'accepted', id: 'abc', sender: 'kine-martin', receivedAt: 1_763_856_000_000, hash: 'h', kid }, key.privateKey);
  const delivered = signReceipt<DeliveredReceipt>(s, { type: 'delivered', id: 'abc', sender: 'kine-martin', participant: 'mutuelle-x', device: 'd', deliveredAt: 1_763_856_000_500, kid }, key.privateKey);
  t.ok(await receiptValid(accepted, pinned, { id: 'abc', hash: 'h' }), 'accepted receipt verifies');
  t.ok(await receiptValid(delivered, pinned), 'delivered receipt verifies');
  t.notOk(await receiptValid(accepted, pinned, { hash: 'other' }), 'for another envelope: refused');
  t.notOk(await receiptValid({ ...accepted, receivedAt: accepted.receivedAt + 1 }, pinned), 'receive time moved: refused');
  t.notOk(await receiptValid(accepted, toBase64Url(other.publicKey)), 'another key: refused');
  t.notOk(await receiptValid(accepted, undefined), 'no pinned key: not verified');
  t.notOk(await receiptValid({ type: 'accepted' }, pinned), 'missing fields: refused');
});
