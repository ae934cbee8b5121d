/**
 * Client trust decisions against a real gateway, through the library API: the gateway's accepted
 * receipt names the envelope the client sealed; a tampered delivery is refused (and acked, not
 * stored); a re-delivery is recognised; mail sealed to a key rotated away still opens with the
 * retired key; a changed identity key is refused until the user accepts it.
 */
import t from 'tap';
import { messagingPair } from './pair.js';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../client/cli.js';
import { PasserelleClient } from '../../client/client.js';
import type { Delivery } from '../../client/receive.js';
import { toBase64Url } from '../../protocol/crypto/base64url.js';
import type { RejectedReceipt } from '../../protocol/crypto/rejected-receipt.js';

const PASS = 'another long enough passphrase';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

t.test('client-side trust decisions', async (t) => {
  const { gateway, cfg, work, kine, mx } = await messagingPair(t, {
    store: 'lmdb', label: 'keys', passphrase: PASS, mxXwing: false,
    messaging: '  limits: { leaseMs: 1000 }\n  policy:\n    - { from: [professional], to: [insurer], both: true }\n',
  });

  await t.test('classic suite when a recipient has no X-Wing key; the accepted receipt hashes our envelope', async (t) => {
    const sent = await kine.send({ to: ['mutuelle-x'], text: 'suite check' });
    t.equal(sent.envelope.suite, 'x25519.xchacha20poly1305.ed25519.blake2b', 'no mixing of PQ and classic wraps');
    t.match(sent.accepted, { status: 'accepted', receipt: { type: 'accepted', id: sent.id, hash: sent.envelopeHash } });
    const [out] = await mx.pullInbox();
    t.match(out, { kind: 'stored', message: { text: 'suite check', verified: true, senderTrust: 'new' } });
  });

  await t.test('a tampered delivery is refused with a signed rejection (no ack) and not stored; a re-delivery is recognised', async (t) => {
    await kine.send({ to: ['mutuelle-x'], text: 'original wording' });
    const body = await mx.api.inbox();
    const items = body.messages as Array<{ id: string; accepted: { receivedAt: number }; envelope: { payload: string; id: string } }>;
    t.equal(items.length, 1);
    const item = items[0]!;
    const { parseDelivery } = await import('../../client/receive.js');
    const forged = structuredClone(item);
    const p = Buffer.from(forged.envelope.payload, 'base64url');
    p[20]! ^= 1;
    forged.envelope.payload = p.toString('base64url');
    const acks: string[] = [];
    const rejections: Array<{ id: string; receipt: RejectedReceipt }> = [];
    const local = { ack: async (id: string): Promise<void> => { acks.push(id); }, reject: async (id: string, receipt: RejectedReceipt): Promise<void> => { rejections.push({ id, receipt }); } };
    const refused = await mx.handle(parseDelivery(forged)!, local);
    t.match(refused, { kind: 'refused', reason: 'signature', rejected: 'bad-signature' });
    t.notOk(await mx.store.get(item.envelope.id), 'nothing stored');
    t.same(acks, [], 'a refused envelope is not acked');
    t.match(rejections, [{ id: item.id, receipt: { type: 'rejected', id: item.envelope.id, sender: 'kine-martin', participant: 'mutuelle-x', device: 'ingest-a', reason: 'bad-signature' } }]);
    const good: Delivery = parseDelivery(item)!;
    t.match(await mx.handle(good, { ...local, ack: (id) => mx.api.ack(id) }), { kind: 'stored', message: { text: 'original wording' } });
    t.match(await mx.handle(good, local), { kind: 'duplicate' }, 'same envelope again: duplicate, acked');
    t.same(acks, [item.id]);
  });

  await t.test('mail sealed to a rotated-away key still opens with the retired key', async (t) => {
    await kine.send({ to: ['mutuelle-x'], text: 'sealed to the old key' });
    const before = toBase64Url(mx.keys.secrets.device.x25519.publicKey);
    await mx.rotate();
    t.not(toBase64Url(mx.keys.secrets.device.x25519.publicKey), before, 'new encryption key');
    t.equal(mx.keys.secrets.retired.length, 1, 'old key retired, not deleted');
    const reopened = await PasserelleClient.open({ dir: mx.dir, passphrase: PASS });
    reopened.readReceipts = false;
    const [out] = await reopened.pullInbox();
    t.match(out, { kind: 'stored', message: { text: 'sealed to the old key', verified: true } });
    const fresh = await kine.send({ to: ['mutuelle-x'], text: 'sealed to the new key' });
    t.ok(fresh.envelope.to.length >= 1);
    const [next] = await reopened.pullInbox();
    t.match(next, { kind: 'stored', message: { text: 'sealed to the new key' } }, 'the sender picked up the new key');
  });

  await t.test('a second device of the same participant: both receive, and each gets the other\'s sent mail', async (t) => {
    const stdout = new Sink();
    const stderr = new Sink();
    const dirB = join(work, 'mx-b');
    const env = { PASSERELLE_PASSPHRASE: PASS };
    t.equal(await main(['init', '--participant', 'mutuelle-x', '--device', 'ingest-b', '--identity-from', mx.dir, '--dir', dirB], { stdout, stderr, env }), 0, stderr.text);
    t.equal(await main(['register', '--gateway', gateway.url, '--token', cfg.tokens['mutuelle-x'], '--dir', dirB], { stdout, stderr, env }), 0, stderr.text);
    const b = await PasserelleClient.open({ dir: dirB, passphrase: PASS });
    b.readReceipts = false;
    t.equal(b.keys.header.identityKey, mx.keys.header.identityKey, 'same identity key, no admin step');
    await kine.send({ to: ['mutuelle-x'], text: 'to every case manager device' });
    const [atA] = await mx.pullInbox();
    const [atB] = await b.pullInbox();
    t.match(atA, { kind: 'stored', message: { text: 'to every case manager device' } });
    t.match(atB, { kind: 'stored', message: { text: 'to every case manager device', senderTrust: 'known' } }, 'pins came along');
    const fromA = await mx.send({ to: ['kine-martin'], text: 'answered from ingest-a' });
    t.ok(fromA.envelope.to.some((r) => r.participant === 'mutuelle-x' && r.device === 'ingest-b'), 'archive copy addressed to ingest-b');
    t.notOk(fromA.envelope.to.some((r) => r.device === 'ingest-a'), 'not to the sending device itself');
    const [copy] = await b.pullInbox();
    t.match(copy, { kind: 'stored', message: { text: 'answered from ingest-a', direction: 'out', from: { device: 'ingest-a' } } });
    t.same(await kine.pullInbox().then((o) => o.map((x) => x.kind)), ['stored'], 'kine gets it once');
  });

  await t.test('a recipient without an identity key at the gateway: refused with what to do', async (t) => {
    const stdout = new Sink();
    const stderr = new Sink();
    const code = await main(['send', '--to', 'chu-lyon', '--text', 'x', '--dir', kine.dir], { stdout, stderr, env: { PASSERELLE_PASSPHRASE: PASS } });
    t.equal(code, 1);
    t.match(stderr.text, /unknown-participant.*administrator pastes the `identityKey:` line/);
  });

  await t.test('a changed identity key is refused until the user accepts it', async (t) => {
    const opts = ['--dir', kine.dir];
    const env = { PASSERELLE_PASSPHRASE: PASS };
    const run = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
      const stdout = new Sink();
      const stderr = new Sink();
      const code = await main(args, { stdout, stderr, env });
      return { code, out: stdout.text, err: stderr.text };
    };
    const file = await PasserelleClient.open({ dir: kine.dir, passphrase: PASS });
    file.keys.secrets.pins['mutuelle-x'] = { identityKey: toBase64Url(new Uint8Array(32).fill(9)), firstSeen: 1 };
    await file.keys.save();
    const refused = await run(['verify', 'mutuelle-x', ...opts]);
    t.equal(refused.code, 1);
    t.match(refused.err, /identity key of mutuelle-x changed/);
    const send = await run(['send', '--to', 'mutuelle-x', '--text', 'must not go', ...opts]);
    t.equal(send.code, 1, 'no sending to a changed key');
    await mx.send({ to: ['kine-martin'], text: 'from a key kine no longer trusts' });
    const held = await run(['inbox', ...opts]);
    t.equal(held.code, 1);
    t.match(held.out, /held envelope .* from mutuelle-x: their identity key changed/, 'held, not acked, not stored');
    const accepted = await run(['verify', 'mutuelle-x', '--accept-new-key', ...opts]);
    t.equal(accepted.code, 0, accepted.err);
    t.match(accepted.out, /Safety number for kine-martin <-> mutuelle-x/);
    const ok = await run(['send', '--to', 'mutuelle-x', '--text', 'after re-verification', ...opts]);
    t.equal(ok.code, 0, ok.err);
    // The held envelope comes back once its lease (1 s here) runs out, and now opens.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const later = await run(['inbox', ...opts]);
    t.equal(later.code, 0, later.err);
    t.match(later.out, /message from mutuelle-x[\s\S]*from a key kine no longer trusts/);
  });
});
