/**
 * A recipient that refuses an envelope says so, and its sender sees it: two real clients over
 * real ws and crypto, on LMDB and on Redis. Two tampered envelopes reach the insurer while it is
 * offline: one whose ciphertext was altered where the gateway keeps it (the signature no longer
 * matches), and one from a sender that committed to another key than the one it wrapped and
 * signed that (the gateway cannot see this; the recipient's key-commitment check does). The
 * insurer's follower rejects both with a signed receipt, the sender's follower sees `rejected`
 * with the code and the rejecting device (verified against that device's key), never
 * `delivered`, and neither envelope comes back when the insurer reconnects. An envelope garbled
 * past decoding is rejected as `malformed` over the HTTP inbox.
 */
import t from 'tap';
import { messagingPair } from './pair.js';
import { follow, type FollowEvent } from '../../client/follow.js';
import { inboxItems } from '../../client/receive.js';
import { toBase64Url } from '../../protocol/crypto/base64url.js';
import { encodeEnvelope, toWire } from '../../protocol/crypto/envelope-codec.js';
import { signedBytes } from '../../protocol/crypto/envelope-core.js';
import { sealEnvelope } from '../../protocol/crypto/envelope-seal.js';
import { SUITES } from '../../protocol/crypto/envelope-types.js';
import { blake2b256, cryptoReady } from '../../protocol/crypto/primitives.js';
import { verifyRejectedReceipt, type RejectedReceipt } from '../../protocol/crypto/rejected-receipt.js';
import { ed25519Sign } from '../../protocol/crypto/signature.js';
import type { DeliveredReceipt } from '../../protocol/receipts.js';
import { deviceQueue } from '../../gateway/relay/relay.js';

const PASS = 'reject test passphrase';

/** Collects follow events and lets a test wait for one. */
class Events {
  readonly list: FollowEvent[] = [];
  readonly #waiters: Array<{ test: (e: FollowEvent) => boolean; resolve: (e: FollowEvent) => void }> = [];

  readonly push = (e: FollowEvent): void => {
    this.list.push(e);
    for (const w of this.#waiters.filter((x) => x.test(e))) {
      this.#waiters.splice(this.#waiters.indexOf(w), 1);
      w.resolve(e);
    }
  };

  /** The first event that passes `test`; fails (rather than hangs) when none came within a minute. */
  waitFor(test: (e: FollowEvent) => boolean): Promise<FollowEvent> {
    const seen = this.list.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`event not seen; got ${JSON.stringify(this.list.map((e) => e.kind))}`)), 60_000);
      this.#waiters.push({ test, resolve: (e) => { clearTimeout(timer); resolve(e); } });
    });
  }
}

for (const store of ['lmdb', 'redis'] as const) {
  t.test(`${store}: tampered envelopes are rejected by the recipient, the sender sees it, nothing is redelivered`, async (t) => {
    const s = await cryptoReady();
    const { gateway, kine, mx, stopAll } = await messagingPair(t, {
      store, label: 'reject', passphrase: PASS, kineXwing: false, mxXwing: false,
      messaging: '  policy:\n    - { from: [professional], to: [insurer], both: true }\n',
    });
    const relayStore = gateway.messaging!.relayStore;
    const signal = AbortSignal.any([stopAll.signal, AbortSignal.timeout(90_000)]);

    // The sender stays connected to hear about its envelopes.
    const atSender = new Events();
    const senderFollowing = follow(kine, { signal, onEvent: atSender.push });
    await atSender.waitFor((e) => e.kind === 'connected');

    // 1. Ciphertext altered at rest in the gateway's relay store, after acceptance.
    const tampered = await kine.send({ to: ['mutuelle-x'], text: 'altered at rest' });
    const key = `env:kine-martin:${tampered.id}`;
    const stored = JSON.parse(new TextDecoder().decode(await relayStore.get(key))) as Record<string, string>;
    const payload = Buffer.from(stored.payload!, 'base64url');
    payload[payload.length - 1]! ^= 0x01;
    stored.payload = payload.toString('base64url');
    await relayStore.put(key, new TextEncoder().encode(JSON.stringify(stored)), Date.now() + 3600_000);

    // 2. A sender that commits to a key other than the one it wrapped, and signs that.
    const recipients = await kine.directory.recipients(['mutuelle-x']);
    const sign = kine.keys.secrets.device.sign;
    const honest = await sealEnvelope({ suite: SUITES.classic, sender: { participant: 'kine-martin', device: 'pc', sign }, recipients, content: { type: 'text', text: 'bad commitment' } });
    const unsigned = { ...honest, commit: s.randombytes_buf(honest.commit.length) };
    const lying = { ...unsigned, sig: ed25519Sign(s, signedBytes(s, unsigned), sign.privateKey) };
    t.match(await kine.api.submit(toWire(lying)), { status: 'accepted' }, 'the gateway cannot see a bad commitment');
    const lyingId = toBase64Url(lying.id);

    // 3. A good one behind them.
    const good = await kine.send({ to: ['mutuelle-x'], text: 'an honest message' });

    const atRecipient = new Events();
    t.equal(await follow(mx, { count: 3, signal, onEvent: atRecipient.push }), 3, 'three deliveries handled');
    const outcomes = atRecipient.list.flatMap((e) => (e.kind === 'outcome' ? [e.outcome] : []));
    t.match(outcomes, [
      { kind: 'refused', id: tampered.id, reason: 'signature', rejected: 'bad-signature' },
      { kind: 'refused', id: lyingId, reason: 'commit', rejected: 'key-commitment' },
      { kind: 'stored', message: { id: good.id, text: 'an honest message' } },
    ], 'the recipient refuses both tampered envelopes and stores the good one');
    t.notOk(await mx.store.get(tampered.id), 'the tampered envelope is not stored');

    // The sender hears each outcome, from the device that decided it.
    const rejectedAt = (id: string) => (e: FollowEvent): boolean => e.kind === 'rejected' && e.id === id;
    t.match(await atSender.waitFor(rejectedAt(tampered.id)), { participant: 'mutuelle-x', device: 'ingest-a', reason: 'bad-signature', verified: true });
    t.match(await atSender.waitFor(rejectedAt(lyingId)), { participant: 'mutuelle-x', device: 'ingest-a', reason: 'key-commitment', verified: true });
    t.match(await atSender.waitFor((e) => e.kind === 'delivered' && e.id === good.id), { device: 'ingest-a', verified: true });
    t.same(atSender.list.filter((e) => e.kind === 'delivered' && (e.id === tampered.id || e.id === lyingId)), [], 'never `delivered` for a rejected envelope');
    t.match((await kine.store.get(tampered.id))?.rejectedBy, [{ participant: 'mutuelle-x', device: 'ingest-a', reason: 'bad-signature' }],
      'the sender\'s copy of the message records who rejected it and why');

    // The receipt listing says the same, with the device's signature on it.
    const listing = async (id: string): Promise<{ delivered: DeliveredReceipt[]; rejected: RejectedReceipt[] }> => {
      const res = await fetch(`${gateway!.url}/v1/messages/${id}/receipts`, { headers: { authorization: kine.api.authorization } });
      return await res.json() as { delivered: DeliveredReceipt[]; rejected: RejectedReceipt[] };
    };
    const forTampered = await listing(tampered.id);
    t.same(forTampered.delivered, [], 'no delivered receipt');
    t.match(forTampered.rejected, [{ type: 'rejected', id: tampered.id, sender: 'kine-martin', participant: 'mutuelle-x', device: 'ingest-a', reason: 'bad-signature' }]);
    t.not(forTampered.rejected[0]?.hash, tampered.envelopeHash, 'the rejection names the bytes the recipient got, not the ones we sent');
    t.ok(verifyRejectedReceipt(s, forTampered.rejected[0]!, mx.keys.secrets.device.sign.publicKey), 'signed by the recipient device key');
    t.match(await listing(lyingId), { delivered: [], rejected: [{ reason: 'key-commitment', hash: toBase64Url(blake2b256(s, encodeEnvelope(lying))) }] },
      'this one arrived exactly as its sender signed it');
    t.match(await listing(good.id), { delivered: [{ device: 'ingest-a' }], rejected: [] });
    t.equal(await relayStore.get(key), undefined, 'the rejected ciphertext is dropped once every recipient answered');

    // Reconnecting brings only what is new: the rejected envelopes are not queued any more.
    t.equal((await gateway.store.queueStats(deviceQueue('mutuelle-x', 'ingest-a'))).depth, 0, 'nothing left in the queue');
    const later = await kine.send({ to: ['mutuelle-x'], text: 'after the reconnect' });
    const again = new Events();
    t.equal(await follow(mx, { count: 1, signal, onEvent: again.push }), 1);
    t.match(again.list.flatMap((e) => (e.kind === 'outcome' ? [e.outcome] : [])), [{ kind: 'stored', message: { id: later.id } }],
      'the first delivery after reconnecting is the new message, not a rejected one');

    // A rejection that does not reach the gateway: the envelope comes back and is judged again
    // (not taken for a replay of itself, which would be acked).
    const lyingAgain = await sealEnvelope({ suite: SUITES.classic, sender: { participant: 'kine-martin', device: 'pc', sign }, recipients, content: { type: 'text', text: 'bad commitment again' } });
    const unsignedAgain = { ...lyingAgain, commit: s.randombytes_buf(lyingAgain.commit.length) };
    await kine.api.submit(toWire({ ...unsignedAgain, sig: ed25519Sign(s, signedBytes(s, unsignedAgain), sign.privateKey) }));
    const [item] = inboxItems(await mx.api.inbox());
    const lost = { ack: async (): Promise<never> => { throw new Error('the ack must not be sent'); }, reject: async (): Promise<never> => { throw new Error('gateway unreachable'); } };
    await t.rejects(mx.handleItem(item, lost), /gateway unreachable/, 'the rejection is lost on the way');
    t.match(await mx.handleItem(item), { kind: 'refused', reason: 'commit', rejected: 'key-commitment' }, 'the same delivery again: rejected again, not acked');
    t.match(await listing(toBase64Url(lyingAgain.id)), { delivered: [], rejected: [{ reason: 'key-commitment' }] });

    // Over the HTTP inbox, an envelope garbled past decoding: rejected as `malformed`, not retried forever.
    const garbled = await kine.send({ to: ['mutuelle-x'], text: 'garbled at rest' });
    await relayStore.put(`env:kine-martin:${garbled.id}`, new TextEncoder().encode('{"v":1,"suite":"none"}'), Date.now() + 3600_000);
    t.match(await mx.pullInbox(), [{ kind: 'refused', id: garbled.id, from: 'kine-martin', reason: 'malformed', rejected: 'malformed' }]);
    t.match(await atSender.waitFor(rejectedAt(garbled.id)), { device: 'ingest-a', reason: 'malformed', verified: true });
    t.match(await listing(garbled.id), { delivered: [], rejected: [{ reason: 'malformed', hash: '' }] });
    t.same(await mx.pullInbox(), [], 'the HTTP inbox does not hand it out again');

    stopAll.abort();
    await senderFollowing;
  });
}
