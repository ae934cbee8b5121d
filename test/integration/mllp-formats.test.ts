import t from 'tap';
import { Client, Message } from 'node-hl7-client';
import { NormalizationEventBus } from '../../gateway/pipeline/normalization-events.js';
import { ack, adt, frame, MllpSender, startFeed } from './mllp-support.js';

// Character sets, batches, enhanced mode and an independent peer, over real sockets.

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const withFacility = (msg: string, facility: string): string => msg.replace('|CHU LYON|', `|${facility}|`);

t.test('windows-1252 vs UTF-8 (é, ü): raw kept as received, ACK mirrors in the same charset', async (t) => {
  const h = await startFeed();
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  const facility = 'Hôpital Zoé Müller';
  const cases = [
    { name: 'MSH-18 8859/1', bytes: latin1(withFacility(adt('CS-1', { charset: '8859/1' }), facility)), enc: 'latin1' as const, used: 'iso-8859-1' },
    { name: 'MSH-18 UNICODE UTF-8', bytes: Buffer.from(withFacility(adt('CS-2', { charset: 'UNICODE UTF-8' }), facility), 'utf8'), enc: 'utf-8' as const, used: 'utf-8' },
    { name: 'undeclared UTF-8', bytes: Buffer.from(withFacility(adt('CS-3'), facility), 'utf8'), enc: 'utf-8' as const, used: 'utf-8' },
    { name: 'undeclared windows-1252', bytes: latin1(withFacility(adt('CS-4'), facility)), enc: 'latin1' as const, used: 'windows-1252' },
  ];
  for (const [i, c] of cases.entries()) {
    const reply = await s.send(c.bytes);
    const a = ack(reply, c.enc);
    t.equal(a.get('MSA-1'), 'AA', `${c.name}: AA`);
    t.equal(a.get('MSH-6'), facility, `${c.name}: MSH-4 mirrored into MSH-6 with its accents`);
    const raw = await h.store.getRaw(h.accepted[i]!.rawId);
    t.ok(raw && Buffer.from(raw.body).equals(c.bytes), `${c.name}: raw bytes are the bytes received`);
    t.equal(raw?.charset, c.used, `${c.name}: the charset used is recorded with the raw`);
  }
});

t.test('forced encoding overrides a wrong MSH-18 (windows-1252 € and ü)', async (t) => {
  const h = await startFeed({ encoding: 'windows-1252' });
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  const body = Buffer.from(withFacility(adt('CS-5', { charset: 'UNICODE UTF-8' }), 'M\xfcller \x80'), 'latin1');
  const reply = await s.send(body);
  t.ok(reply?.includes(Buffer.from('|M\xfcller \x80|', 'latin1')), 'ACK carries the windows-1252 bytes back');
});

t.test('FHS/BHS batch: each message stored and answered, one response batch', async (t) => {
  const h = await startFeed();
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  const msgs = ['B-1', 'B-2', 'B-3'].map((c) => adt(c).replace(/\r$/, ''));
  const batch = ['FHS|^~\\&|HIS|CHU|GW|GW|20260101||||F-77', 'BHS|^~\\&|HIS|CHU|GW|GW|20260101||||BA-77', ...msgs, 'BTS|3', 'FTS|1'].join('\r') + '\r';
  const reply = (await s.send(batch))?.toString('latin1').split('\r') ?? [];
  t.match(reply[0], /^FHS\|\^~\\&\|GW\|GW\|HIS\|CHU\|\d{14}\+0000\|\|\|\|F\w+\|F-77$/);
  t.match(reply[1], /^BHS\|.*\|BA-77$/);
  t.same(reply.filter((l) => l.startsWith('MSA')), ['MSA|AA|B-1', 'MSA|AA|B-2', 'MSA|AA|B-3']);
  t.same(reply.slice(-2), ['BTS|3', 'FTS|1']);
  t.equal(h.accepted.length, 3);
  for (const [i, m] of msgs.entries()) {
    const raw = await h.store.getRaw(h.accepted[i]!.rawId);
    t.equal(raw && Buffer.from(raw.body).toString('latin1'), m, `message ${i + 1} stored alone, byte for byte`);
  }
});

t.test('unwrapped messages in one frame: one ACK each, in one response', async (t) => {
  const h = await startFeed();
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  const reply = (await s.send(adt('U-1') + adt('U-2')))?.toString('latin1') ?? '';
  t.same(reply.split('\r').filter((l) => l.startsWith('MSA')), ['MSA|AA|U-1', 'MSA|AA|U-2']);
  t.same(h.accepted.map((r) => r.req.sourceRef), ['U-1', 'U-2']);
});

t.test('enhanced mode: CA on commit, then the application ACK after normalization (MSH-16)', async (t) => {
  const events = new NormalizationEventBus();
  const h = await startFeed({ events });
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  const commit = ack(await s.send(adt('E-1', { ack: ['AL', 'AL'] })));
  t.equal(commit.get('MSA-1'), 'CA');
  t.equal(commit.get('MSH-15'), 'NE');
  events.publish({ rawId: h.accepted[0]!.rawId, ok: true, issues: [], recordIds: ['rec_1'] });
  const app = ack(await s.next());
  t.equal(app.get('MSA-1'), 'AA');
  t.equal(app.get('MSA-2'), 'E-1');
  t.not(app.get('MSH-10'), commit.get('MSH-10'), 'a separate message');

  t.equal(ack(await s.send(adt('E-2', { ack: ['AL', 'ER'] }))).get('MSA-1'), 'CA');
  events.publish({ rawId: h.accepted[1]!.rawId, ok: true, issues: [], recordIds: [] });
  s.write(frame(adt('E-3', { ack: ['NE', 'ER'] })));
  while (h.accepted.length < 3) await new Promise((r) => setTimeout(r, 5));
  events.publish({ rawId: h.accepted[2]!.rawId, ok: false, issues: [{ severity: 'error', code: 'value', where: 'PID-7', message: 'PID-7 is not a valid HL7 DTM' }], recordIds: [] });
  const ae = ack(await s.next());
  t.equal(ae.get('MSA-1'), 'AE');
  t.equal(ae.get('MSA-2'), 'E-3');
  t.equal(ae.raw('ERR-2'), 'PID^1^7');
  t.equal(ae.get('MSA-2'), 'E-3', 'next frame after E-2’s CA: E-2 (ER, success) got no application ACK, E-3 (MSH-15 NE) no commit ACK');
});

t.test('enhanced mode: application ACK for a closed connection is skipped and logged', async (t) => {
  const events = new NormalizationEventBus();
  const h = await startFeed({ events });
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.equal(ack(await s.send(adt('E-9', { ack: ['AL', 'AL'] }))).get('MSA-1'), 'CA');
  s.close();
  await new Promise((r) => setTimeout(r, 50));
  events.publish({ rawId: h.accepted[0]!.rawId, ok: true, issues: [], recordIds: [] });
  t.ok(h.logs.lines.some((l) => l.includes('application ACKs abandoned')), 'logged');
});

t.test('inbound ACKs (a peer acknowledging our application ACK) are neither stored nor answered', async (t) => {
  const h = await startFeed();
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port);
  t.teardown(() => s.close());
  s.write(frame('MSH|^~\\&|HIS|CHU|GW|GW|20260101||ACK^A01^ACK|9|P|2.5.1\rMSA|CA|P123\r'));
  t.equal(ack(await s.send(adt('AFTER-ACK'))).get('MSA-2'), 'AFTER-ACK', 'the next answer is for the next message');
  t.same(h.accepted.map((r) => r.req.sourceRef), ['AFTER-ACK']);
});

t.test('node-hl7-client as an independent sender reads our ACKs', async (t) => {
  const h = await startFeed();
  t.teardown(() => h.close());
  const client = new Client({ host: '127.0.0.1' });
  const got: string[] = [];
  // Each message is sent once the previous ACK is in (node-hl7-client spins when two wait at once).
  const done = new Promise<void>((resolve, reject) => {
    const out = client.createConnection({ port: h.port, waitAck: true }, async (res) => {
      const m = res.getMessage();
      got.push(`${m.get('MSA.1').toString()}:${m.get('MSA.2').toString()}`);
      if (got.length === 1) await out.sendMessage(new Message({ text: adt('NHC-2').replace(/\r$/, '') }));
      else {
        await out.close();
        resolve();
      }
    });
    out.sendMessage(new Message({ text: adt('NHC-1').replace(/\r$/, '') })).catch(reject);
  });
  await done;
  t.same(got, ['AA:NHC-1', 'AA:NHC-2']);
  t.same(h.accepted.map((r) => r.req.sourceRef), ['NHC-1', 'NHC-2']);
});
