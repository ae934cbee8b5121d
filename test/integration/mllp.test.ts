import t from 'tap';
import { GatewayError } from '../../protocol/errors.js';
import { ack, adt, corpusMessages, frame, MllpSender, startFeed } from './mllp-support.js';

// Real TCP sockets on 127.0.0.1, port 0, a real LmdbStore behind the real Intake.

t.test('corpus ADT/ORU messages: AA only once the raw can be read back from the store', async (t) => {
  const h = await startFeed();
  t.teardown(() => h.close());
  const messages = corpusMessages(['ADT', 'ORU'], 30);
  t.ok(messages.length >= 10, `${messages.length} corpus messages`);
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  let stored = 0;
  for (const [i, body] of messages.entries()) {
    const a = ack(await s.send(body), 'utf-8');
    const header = ack(body, 'utf-8').header;
    // MSH-15/16 valued: the sender asked for enhanced mode, so the commit ACK is CA.
    const expected = header.acceptAckType || header.appAckType ? 'CA' : 'AA';
    t.equal(a.get('MSA-1'), expected, `message ${i} acknowledged ${expected}`);
    t.equal(a.get('MSA-2'), header.controlId, `MSA-2 mirrors MSH-10 of message ${i}`);
    const result = h.accepted[i]!;
    // Read back right after the ACK: the raw must already be durable (byte-identical when new;
    // a corpus message reusing an earlier MSH-10 is a duplicate of that earlier raw).
    const raw = await h.store.getRaw(result.rawId);
    if (result.status === 'stored') {
      stored++;
      t.ok(raw && Buffer.from(raw.body).equals(body), `raw ${i} stored byte for byte before its ACK`);
    } else {
      t.ok(raw, `message ${i} is a duplicate of a stored raw`);
    }
  }
  t.ok(stored >= 10, `${stored} distinct raws stored`);
});

t.test('unparseable and incomplete messages: AE with ERR naming location and table 0357 code', async (t) => {
  const h = await startFeed();
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  const noCtrl = ack(await s.send('MSH|^~\\&|HIS|CHU|GW|GW|20260101||ADT^A01||P|2.5.1\rPID|1\r'));
  t.equal(noCtrl.get('MSA-1'), 'AE');
  t.equal(noCtrl.raw('ERR-2'), 'MSH^1^10');
  t.equal(noCtrl.get('ERR-3'), '101');
  const badSeg = ack(await s.send(adt('BAD-1') + 'pid|oops\r'));
  t.equal(badSeg.get('MSA-1'), 'AE');
  t.equal(badSeg.get('MSA-2'), 'BAD-1');
  t.equal(badSeg.get('ERR-3'), '100');
  const garbage = ack(await s.send('this is not HL7'));
  t.equal(garbage.get('MSA-1'), 'AE');
  t.equal(garbage.raw('ERR-2'), 'MSH^1');
  t.equal(garbage.get('ERR-3'), '100');
  t.equal(h.accepted.length, 3, 'content errors are stored (AE after the commit) so they stay visible');
});

t.test('disallowed message type: AR with ERR 200, nothing stored', async (t) => {
  const h = await startFeed({ allowedMessageTypes: ['ADT^*'] });
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  const a = ack(await s.send(adt('ORU-1', { type: 'ORU^R01^ORU_R01' })));
  t.equal(a.get('MSA-1'), 'AR');
  t.equal(a.get('MSA-2'), 'ORU-1');
  t.equal(a.raw('ERR-2'), 'MSH^1^9^^1');
  t.equal(a.get('ERR-3'), '200');
  t.equal(a.get('ERR-5'), 'PSL_FORBIDDEN');
  t.equal(ack(await s.send(adt('ADT-1'))).get('MSA-1'), 'AA', 'the connection stays usable');
  t.same(h.accepted.map((r) => r.req.sourceRef), ['ADT-1']);
});

t.test('unknown source address: dropped at accept (no slot taken), nothing stored', async (t) => {
  const h = await startFeed({ allowFrom: ['192.0.2.0/24'] });
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  s.write('\x0bMSH');
  t.equal(await s.next(), undefined, 'connection closed without reading a frame');
  t.equal(h.accepted.length, 0);
  t.equal(h.feed.stats.refusedConnections, 1);
});

t.test('frame over maxFrameBytes: AR naming the rule, then close; earlier frames were answered', async (t) => {
  const h = await startFeed({ maxFrameBytes: 2048 });
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.equal(ack(await s.send(adt('OK-1'))).get('MSA-1'), 'AA');
  s.write(frame(adt('BIG-1') + `NTE|1||${'x'.repeat(4096)}\r`));
  const a = ack(await s.next());
  t.equal(a.get('MSA-1'), 'AR');
  t.equal(a.get('ERR-5'), 'PSL_MLLP_FRAME_TOO_LARGE');
  t.match(a.get('ERR-8'), /maxFrameBytes/);
  t.equal(await s.next(), undefined, 'connection closed');
  t.equal(h.accepted.length, 1);
});

t.test('duplicates: the same bytes replay the original ACK; a reused MSH-10 with other content is a new message', async (t) => {
  const h = await startFeed();
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  const first = await s.send(adt('DUP-1'));
  const again = await s.send(adt('DUP-1'));
  t.ok(first && again && first.equals(again), 'byte-identical replay');
  const sameCtrl = await s.send(adt('DUP-1', { pid: '999' }));
  t.equal(ack(sameCtrl).get('MSA-1'), 'AA', 'same MSH-10, other patient: acknowledged as a message of its own');
  t.notOk(first?.equals(sameCtrl!), 'with a fresh ACK, not the replayed original');
  t.same(h.accepted.map((r) => r.status), ['stored', 'duplicate', 'stored']);
  t.equal(new Set(h.accepted.map((r) => r.rawId)).size, 2, 'the second message is stored, not lost');
  t.equal(h.accepted[2]?.controlIdReused, true, 'and flagged control-id-reused');
});

t.test('a duplicate after a restart gets the original ACK rebuilt from the stored raw', async (t) => {
  const h = await startFeed({ allowedMessageTypes: ['ADT^*'] });
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  const first = ack(await s.send(adt('DUP-2')));
  const h2 = await startFeed({});
  t.teardown(() => h2.close());
  // Same store, fresh feed (empty ACK cache): a new feed instance over h's store.
  const { MllpFeed } = await import('../../adapters/hl7v2/mllp-feed.js');
  const { createLogger } = await import('../../gateway/log.js');
  const fresh = new MllpFeed({
    name: 'chu-mllp', owner: { participant: 'chu-lyon', kind: 'hospital' }, port: 0, allowFrom: ['127.0.0.1'], originals: h.store,
    log: createLogger({ level: 'silent' }), intake: { accept: async () => ({ status: 'duplicate', rawId: h.accepted[0]!.rawId, sha256: '' }) },
  });
  const { port } = await fresh.listen();
  t.teardown(() => fresh.close());
  const s2 = await MllpSender.connect(port);
  t.teardown(() => s2.close());
  const replay = ack(await s2.send(adt('DUP-2', { pid: '777' })));
  const strip = (m: typeof first): string => m.text.replace(/^((?:[^|]*\|){6})[^|]*/, '$1');
  t.equal(strip(replay), strip(first), 'identical apart from MSH-7');
});

t.test('split writes and many frames per write: every frame answered, in order', async (t) => {
  const h = await startFeed();
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  const bytes = frame(adt('SPLIT-1'));
  for (const b of bytes) {
    s.write(Buffer.from([b]));
    await new Promise((r) => setImmediate(r));
  }
  t.equal(ack(await s.next()).get('MSA-2'), 'SPLIT-1');
  const many = Buffer.concat(Array.from({ length: 20 }, (_, i) => frame(adt(`MANY-${i}`))));
  s.write(Buffer.concat([Buffer.from('\r\n  noise'), many.subarray(0, 700)]));
  s.write(many.subarray(700));
  const order: string[] = [];
  for (let i = 0; i < 20; i++) order.push(ack(await s.next()).get('MSA-2'));
  t.same(order, Array.from({ length: 20 }, (_, i) => `MANY-${i}`));
  t.ok(h.feed.stats.noiseBytes >= 9, 'noise between frames counted');
  t.ok(h.logs.lines.some((l) => l.includes('MLLP bytes outside a frame skipped') && l.includes('"classes"')), 'noise logged with offsets and classes');
});

t.test('store failure: AE (original) / CE (enhanced), never AA or CA', async (t) => {
  const failing = { accept: async () => { throw new GatewayError('PSL_STORE_UNAVAILABLE'); } };
  const h = await startFeed({ intakeOverride: failing });
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  const original = ack(await s.send(adt('FAIL-1')));
  t.equal(original.get('MSA-1'), 'AE');
  t.equal(original.get('ERR-5'), 'PSL_STORE_UNAVAILABLE');
  const enhanced = ack(await s.send(adt('FAIL-2', { ack: ['AL', 'NE'] })));
  t.equal(enhanced.get('MSA-1'), 'CE');
});

t.test('peer half-closes mid-frame: partial frame dropped and logged, earlier ACK delivered', async (t) => {
  const h = await startFeed();
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  s.write(Buffer.concat([frame(adt('HALF-1')), frame(adt('HALF-2')).subarray(0, 40)]));
  s.socket.end();
  t.equal(ack(await s.next()).get('MSA-2'), 'HALF-1');
  t.equal(await s.next(), undefined);
  t.same(h.accepted.map((r) => r.req.sourceRef), ['HALF-1']);
  t.ok(h.logs.lines.some((l) => l.includes('peer closed mid-frame')));
});

t.test('idle timeout and maxConnections', async (t) => {
  const h = await startFeed({ idleTimeoutMs: 1000, maxConnections: 1 });
  t.teardown(() => h.close());
  const first = await MllpSender.connect(h.port);
  t.equal(ack(await first.send(adt('IDLE-1'))).get('MSA-1'), 'AA');
  const second = await MllpSender.connect(h.port);
  t.equal(await second.next(), undefined, 'second connection dropped at maxConnections');
  t.equal(await first.next(5_000), undefined, 'idle connection closed by the gateway');
  t.equal(h.feed.stats.refusedConnections, 1);
});
