/**
 * `rejected` receipts at the relay, on LMDB and Redis, over real ws and HTTP: forged rejections
 * (another key, another device, another envelope, a reason that is not a code) are refused with
 * a clear error and change nothing, the delivery can still be acked; a genuine rejection by one
 * device reaches the sender next to the other device's `delivered`, and the HTTP inbox can
 * reject too.
 */
import t from 'tap';
import { toBase64Url } from '../../protocol/crypto/base64url.js';
import { encodeEnvelope, fromWire } from '../../protocol/crypto/envelope-codec.js';
import { generateDeviceKeys } from '../../protocol/crypto/keys.js';
import { blake2b256, cryptoReady } from '../../protocol/crypto/primitives.js';
import { signRejectedReceipt, type RejectedReceipt, type RejectReason } from '../../protocol/crypto/rejected-receipt.js';
import { deviceQueue } from '../../gateway/relay/relay.js';
import type { DeliveredReceipt } from '../../protocol/receipts.js';
import { mustConnect, postEnvelope, registerDevice, seal, startMessagingGateway, type MessagingGateway, type TestDevice } from './relay-fixture.js';

type Receipts = { delivered: DeliveredReceipt[]; rejected: RejectedReceipt[] };

for (const store of ['lmdb', 'redis'] as const) {
  t.test(`${store}: rejected receipts`, async (t) => {
    const s = await cryptoReady();
    const gw: MessagingGateway = await startMessagingGateway({ store, logLevel: 'warn', messaging: '  policy:\n    - { from: [professional], to: [insurer], both: true }\n' });
    t.teardown(() => gw.cleanup());
    const pro = await registerDevice(gw, 'kine-martin', 'pro-1');
    const insA = await registerDevice(gw, 'mutuelle-x', 'ingest-a');
    const insB = await registerDevice(gw, 'mutuelle-x', 'ingest-b');

    /** A rejection of `frame`'s envelope as `by` would sign it, with fields overridden for forgeries. */
    const rejection = (frame: Record<string, unknown>, by: TestDevice, o: { key?: TestDevice['keys']['sign']; reason?: RejectReason } & Partial<RejectedReceipt> = {}): RejectedReceipt => {
      const env = fromWire(frame.envelope);
      const { key, ...fields } = o;
      return signRejectedReceipt(s, {
        type: 'rejected', id: toBase64Url(env.id), sender: env.from.participant, participant: by.participant, device: by.deviceId,
        reason: 'bad-signature', hash: toBase64Url(blake2b256(s, encodeEnvelope(env))), rejectedAt: Date.now(), ...fields,
      }, key ?? by.keys.sign);
    };
    const receiptsOf = async (id: string): Promise<Receipts> => await (await gw.as('kine-martin', `/v1/messages/${id}/receipts`)).json() as Receipts;

    await t.test('forged rejections are refused and change nothing; the genuine ones count', async (t) => {
      const sender = await mustConnect(gw, 'kine-martin', 'pro-1');
      const env = await seal(pro, [insA, insB], { type: 'text', text: 'two devices' });
      const other = await seal(pro, [insA], { type: 'text', text: 'another envelope' });
      t.equal((await postEnvelope(gw, 'kine-martin', env)).status, 201);
      t.equal((await postEnvelope(gw, 'kine-martin', other)).status, 201);
      const id = toBase64Url(env.id);
      const a = await mustConnect(gw, 'mutuelle-x', 'ingest-a');
      const b = await mustConnect(gw, 'mutuelle-x', 'ingest-b');
      const frameA = await a.next('envelope');
      const frameOther = await a.next('envelope');
      const frameB = await b.next('envelope');

      const strangerKey = (await generateDeviceKeys()).sign;
      const forgeries: Array<[string, unknown, string, string]> = [
        ['signed by a key the directory does not have for this device', rejection(frameA, insA, { key: strangerKey }), 'PSL_FORBIDDEN', 'receipt-signature'],
        ['signed by a stranger under this device\'s kid', { ...rejection(frameA, insA, { key: strangerKey }), kid: rejection(frameA, insA).kid }, 'PSL_FORBIDDEN', 'receipt-signature'],
        ['signed by the other device, naming this one', rejection(frameA, insA, { key: insB.keys.sign }), 'PSL_FORBIDDEN', 'receipt-signature'],
        ['the other device\'s genuine rejection, sent on this connection', rejection(frameB, insB), 'PSL_FORBIDDEN', 'receipt-mismatch'],
        ['a genuine rejection of another envelope', rejection(frameOther, insA), 'PSL_FORBIDDEN', 'receipt-mismatch'],
        ['a reason that is not one of the codes', { ...rejection(frameA, insA), reason: 'patient Durand asked to stop' }, 'PSL_BAD_REQUEST', 'malformed'],
        ['a field changed after signing', { ...rejection(frameA, insA), reason: 'not-for-me' }, 'PSL_FORBIDDEN', 'receipt-signature'],
      ];
      for (const [what, receipt, code, reason] of forgeries) {
        a.send({ type: 'reject', id: frameA.id, receipt });
        t.match(await a.next('error'), { code, reason }, `ws: ${what}`);
      }
      const http = await gw.as('mutuelle-x', `/v1/inbox/${encodeURIComponent(String(frameA.id))}/reject?device=ingest-a`, {
        method: 'POST', body: JSON.stringify(rejection(frameA, insA, { key: strangerKey })), headers: { 'content-type': 'application/json' },
      });
      t.equal(http.status, 403, 'HTTP: a forged rejection is refused too');
      t.match(await http.json(), { error: { code: 'PSL_FORBIDDEN', reason: 'receipt-signature' } });
      const before = await receiptsOf(id);
      t.same([before.delivered, before.rejected], [[], []], 'nothing recorded');

      // Still in flight as before: the device can ack it, and the sender's first receipt is that.
      a.send({ type: 'ack', id: frameA.id });
      t.match(await sender.next('receipt'), { receipt: { type: 'delivered', id, device: 'ingest-a' } }, 'no rejection reached the sender before the ack');
      t.ok(await gw.gateway.messaging!.relayStore.get(`env:kine-martin:${id}`), 'ciphertext kept: one recipient device has not answered');

      // The other device's genuine rejection counts, once.
      const genuine = rejection(frameB, insB, { reason: 'key-commitment' });
      b.send({ type: 'reject', id: frameB.id, receipt: genuine });
      t.same((await sender.next('receipt')).receipt, genuine, 'the sender gets the device-signed rejection as it was signed');
      b.send({ type: 'reject', id: frameB.id, receipt: genuine });
      t.match(await b.next('error'), { code: 'PSL_NOT_FOUND', reason: 'not-in-flight' }, 'a second rejection of the same delivery');
      const r = await receiptsOf(id);
      t.match(r.delivered, [{ device: 'ingest-a' }]);
      t.same(r.rejected, [genuine]);
      t.equal(await gw.gateway.messaging!.relayStore.get(`env:kine-martin:${id}`), undefined, 'every device answered: ciphertext dropped');
      t.equal((await gw.gateway.store.queueStats(deviceQueue('mutuelle-x', 'ingest-b'))).depth, 0, 'not queued for redelivery');

      a.send({ type: 'ack', id: frameOther.id });
      await sender.next('receipt');
      await Promise.all([a.close(), b.close(), sender.close()]);
    });

    await t.test('HTTP inbox: a rejected delivery leaves the queue and the sender can read why', async (t) => {
      const env = await seal(pro, [insA], { type: 'text', text: 'over http' });
      t.equal((await postEnvelope(gw, 'kine-martin', env)).status, 201);
      const inbox = await (await gw.as('mutuelle-x', '/v1/inbox?device=ingest-a&max=5')).json() as { messages: Array<Record<string, unknown>> };
      t.equal(inbox.messages.length, 1);
      const item = inbox.messages[0]!;
      const receipt = rejection(item, insA, { reason: 'not-for-me' });
      const res = await gw.as('mutuelle-x', `/v1/inbox/${encodeURIComponent(String(item.id))}/reject?device=ingest-a`, {
        method: 'POST', body: JSON.stringify(receipt), headers: { 'content-type': 'application/json' },
      });
      t.equal(res.status, 200);
      t.same(await res.json(), { status: 'rejected', receipt });
      t.same((await receiptsOf(toBase64Url(env.id))).rejected, [receipt]);
      const again = await (await gw.as('mutuelle-x', '/v1/inbox?device=ingest-a&max=5')).json() as { messages: unknown[] };
      t.same(again.messages, [], 'not delivered again');
    });
  });
}
