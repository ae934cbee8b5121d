import t from 'tap';
import { connect } from 'node:net';
import { ack, adt, MllpSender, startFeed } from './mllp-support.js';

// Hostile or broken peers never lock the owner out and always get a clear answer.

t.test('an empty frame gets an AR that says the frame was empty; the connection stays usable', async (t) => {
  const h = await startFeed();
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  s.write(Buffer.from([0x0b, 0x1c, 0x0d]));
  const bytes = await s.next();
  const answer = ack(bytes);
  t.equal(answer.get('MSA-1'), 'AR');
  t.match(bytes!.toString('latin1'), /empty/i, 'the text names the rule: empty frame');
  t.notMatch(answer.get('MSA-3') ?? '', /again later/i, 'not "send it again later"');
  t.equal(ack(await s.send(adt('AFTER-EMPTY'))).get('MSA-1'), 'AA', 'the next message is answered');
  t.equal(h.accepted.length, 1, 'nothing stored for the empty frame');
});

t.test('slow peers from a non-allowed address do not take the owner\'s slots', async (t) => {
  const h = await startFeed({ maxConnections: 2 });
  t.teardown(() => h.close());
  const attackers = Array.from({ length: 8 }, () => connect({ host: '127.0.0.1', port: h.port, localAddress: '127.0.0.2' }));
  t.teardown(() => attackers.forEach((a) => a.destroy()));
  await Promise.all(attackers.map((a) => new Promise<void>((resolve) => {
    a.on('error', () => resolve());
    a.on('close', () => resolve());
    a.once('connect', () => a.write(Buffer.from([0x0b, 0x4d])));
  })));
  t.ok(attackers.every((a) => a.destroyed || a.readableEnded), 'every non-allowed peer was dropped at once');
  const owner = await MllpSender.connect(h.port);
  t.teardown(() => owner.close());
  t.equal(ack(await owner.send(adt('OWNER-1'))).get('MSA-1'), 'AA', 'the owner is served');
});

t.test('an allowed peer is limited per source and cut when a frame does not complete in time', async (t) => {
  const h = await startFeed({ maxConnections: 8, maxConnectionsPerSource: 2, frameTimeoutMs: 1_000, idleTimeoutMs: 60_000 });
  t.teardown(() => h.close());
  const slow = await MllpSender.connect(h.port);
  t.teardown(() => slow.close());
  slow.write(Buffer.from([0x0b, 0x4d]));
  const drip = setInterval(() => slow.write('S'), 200);
  t.teardown(() => clearInterval(drip));
  await new Promise<void>((resolve) => slow.socket.once('close', () => resolve()));
  clearInterval(drip);
  t.pass('a frame dripping one byte at a time is cut by the frame deadline, although the idle timer keeps being reset');

  const a = await MllpSender.connect(h.port);
  const b = await MllpSender.connect(h.port);
  t.teardown(() => { a.close(); b.close(); });
  const third = connect({ host: '127.0.0.1', port: h.port });
  t.teardown(() => third.destroy());
  await new Promise<void>((resolve) => { third.on('close', () => resolve()); third.on('error', () => resolve()); });
  t.pass('a third connection from the same source is refused');
  t.equal(ack(await a.send(adt('PER-SOURCE-1'))).get('MSA-1'), 'AA', 'the connections within the limit are served');
});
