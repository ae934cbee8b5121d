import t from 'tap';
import { parseHl7 } from '../../adapters/hl7v2/parse.js';
import { startTestGateway } from '../helpers/gateway.js';
import { adt, corpusMessages } from './mllp-support.js';

// HL7 over HTTP on the real hapi listener: POST /hl7/{feed}, the ACK is the response body.

const ER7 = 'x-application/hl7-v2+er7';

t.test('POST /hl7/{feed}', async (t) => {
  const gw = await startTestGateway({ store: 'lmdb' });
  t.teardown(() => gw.cleanup());
  const post = (feed: string, body: string | Uint8Array, as: 'chu-lyon' | 'labo-bioplus' | null = 'chu-lyon', type = ER7) =>
    gw.as(as ?? undefined, `/hl7/${feed}`, { method: 'POST', body: typeof body === 'string' ? Buffer.from(body, 'latin1') : body, headers: { 'content-type': type } });
  const ackOf = async (res: Response) => {
    const r = parseHl7(new Uint8Array(await res.arrayBuffer()));
    if (!r.ok) throw new Error('ACK does not parse');
    return r.message;
  };

  t.test('corpus messages: 200 with AA (CA in enhanced mode), raw durable before the answer', async (t) => {
    for (const body of corpusMessages(['ADT'], 5)) {
      const res = await post('chu-adt', body);
      t.equal(res.status, 200);
      t.match(res.headers.get('content-type'), /^x-application\/hl7-v2\+er7; charset=/);
      const a = await ackOf(res);
      t.match(a.get('MSA-1'), /^(AA|CA)$/);
    }
  });

  t.test('duplicate replays the original ACK byte for byte', async (t) => {
    const one = await post('chu-adt', adt('H-1'));
    const two = await post('chu-adt', adt('H-1'));
    t.same(Buffer.from(await two.arrayBuffer()), Buffer.from(await one.arrayBuffer()));
  });

  t.test('unparseable: AE with ERR', async (t) => {
    const a = await ackOf(await post('chu-adt', 'MSH|^~\\&|A|B|C|D|2026||ADT^A01||P|2.5.1\r'));
    t.equal(a.get('MSA-1'), 'AE');
    t.equal(a.raw('ERR-2'), 'MSH^1^10');
  });

  t.test('a participant that does not own the feed: 403 with AR', async (t) => {
    const res = await post('chu-adt', adt('H-2'), 'labo-bioplus');
    t.equal(res.status, 403);
    const a = await ackOf(res);
    t.equal(a.get('MSA-1'), 'AR');
    t.equal(a.get('ERR-5'), 'PSL_FORBIDDEN');
  });

  t.test('no token: 401; unknown feed: 404; wrong content type: 415', async (t) => {
    t.equal((await post('chu-adt', adt('H-3'), null)).status, 401);
    t.equal((await post('nope', adt('H-3'))).status, 404);
    t.equal((await post('chu-adt', adt('H-3'), 'chu-lyon', 'text/plain')).status, 415);
  });

  t.test('a batch gets a batch of ACKs', async (t) => {
    const body = ['BHS|^~\\&|HIS|CHU|GW|GW|2026||||BB-1', adt('HB-1').trimEnd(), adt('HB-2').trimEnd(), 'BTS|2'].join('\r');
    const text = Buffer.from(await (await post('chu-adt', body)).arrayBuffer()).toString('latin1');
    t.same(text.split('\r').filter((l) => /^(BHS|MSA|BTS)/.test(l)).map((l) => l.replace(/^(BHS).*$/, '$1')), ['BHS', 'MSA|AA|HB-1', 'MSA|AA|HB-2', 'BTS|2']);
  });

  t.test('windows-1252 body with a charset parameter: ACK in the same charset', async (t) => {
    const body = Buffer.from(adt('H-CS').replace('|CHU LYON|', '|Hôpital Müller|'), 'latin1');
    const res = await post('chu-adt', body, 'chu-lyon', `${ER7}; charset=windows-1252`);
    t.match(res.headers.get('content-type'), /charset=windows-1252/);
    t.ok(Buffer.from(await res.arrayBuffer()).includes(Buffer.from('|H\xf4pital M\xfcller|', 'latin1')));
  });
});
