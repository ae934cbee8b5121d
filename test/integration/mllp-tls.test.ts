import t from 'tap';
import { ack, adt, devPki, MllpSender, startFeed } from './mllp-support.js';

// mTLS over real sockets with certificates from certs/dev-ca.sh, trusted explicitly.

const pki = devPki(['chu-lyon', 'labo-bioplus']);
const foreign = devPki(['chu-lyon']);
t.teardown(() => {
  pki.cleanup();
  foreign.cleanup();
});

const serverTls = (pins: { clientSubjects?: string[]; clientFingerprints?: string[] }) => ({
  cert: pki.read('server.crt'), key: pki.read('server.key'), ca: pki.read('ca.crt'), requireClientCert: true, ...pins,
});
const client = (from: typeof pki, name: string) => ({ ca: pki.read('ca.crt'), cert: from.read(`${name}.crt`), key: from.read(`${name}.key`) });

t.test('the owner certificate (pinned by subject) is accepted: AA after durable commit', async (t) => {
  const h = await startFeed({ allowFrom: [], tls: serverTls({ clientSubjects: ['CN=chu-lyon'] }) });
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port, client(pki, 'chu-lyon'));
  t.teardown(() => s.close());
  const a = ack(await s.send(adt('TLS-1')));
  t.equal(a.get('MSA-1'), 'AA');
  t.ok(await h.store.getRaw(h.accepted[0]!.rawId), 'stored before the ACK');
  t.ok(h.logs.lines.some((l) => l.includes('"via":"certificate"')), 'connection authenticated by certificate');
});

t.test('pinned by SHA-256 fingerprint', async (t) => {
  const fp = pki.read('chu-lyon.fingerprint').toString().trim();
  const h = await startFeed({ allowFrom: [], tls: serverTls({ clientFingerprints: [fp] }) });
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port, client(pki, 'chu-lyon'));
  t.teardown(() => s.close());
  t.equal(ack(await s.send(adt('TLS-2'))).get('MSA-1'), 'AA');
});

t.test('a certificate from the right CA but another participant: AR, nothing stored, closed', async (t) => {
  const h = await startFeed({ allowFrom: [], tls: serverTls({ clientSubjects: ['CN=chu-lyon'] }) });
  t.teardown(() => h.close());
  const s = await MllpSender.connect(h.port, client(pki, 'labo-bioplus'));
  const a = ack(await s.send(adt('TLS-3')));
  t.equal(a.get('MSA-1'), 'AR');
  t.equal(a.get('ERR-5'), 'PSL_FORBIDDEN');
  t.equal(await s.next(), undefined);
  t.equal(h.accepted.length, 0);
});

t.test('a client certificate from another CA is refused in the handshake', async (t) => {
  const h = await startFeed({ allowFrom: [], tls: serverTls({ clientSubjects: ['CN=chu-lyon'] }) });
  t.teardown(() => h.close());
  let answered = false;
  try {
    const s = await MllpSender.connect(h.port, client(foreign, 'chu-lyon'));
    // TLS 1.3: the client may finish before the server has judged its certificate.
    s.write(Buffer.from(`\x0b${adt('TLS-4')}\x1c\r`, 'latin1'));
    answered = (await s.next()) !== undefined;
    s.close();
  } catch {
    // handshake alert reached the client first
  }
  t.equal(answered, false, 'no ACK of any kind');
  t.equal(h.accepted.length, 0);
  await new Promise((r) => setTimeout(r, 50));
  t.ok(h.feed.stats.tlsFailures >= 1, 'counted as a refused handshake');
});

t.test('no client certificate at all is refused', async (t) => {
  const h = await startFeed({ allowFrom: [], tls: serverTls({ clientSubjects: ['CN=chu-lyon'] }) });
  t.teardown(() => h.close());
  let answered = false;
  try {
    const s = await MllpSender.connect(h.port, { ca: pki.read('ca.crt') });
    s.write(Buffer.from(`\x0b${adt('TLS-5')}\x1c\r`, 'latin1'));
    answered = (await s.next()) !== undefined;
    s.close();
  } catch {
    // refused during the handshake
  }
  t.equal(answered, false);
  t.equal(h.accepted.length, 0);
});

t.test('the client verifies our server certificate against the dev CA (no verification bypass)', async (t) => {
  const h = await startFeed({ allowFrom: [], tls: serverTls({ clientSubjects: ['CN=chu-lyon'] }) });
  t.teardown(() => h.close());
  await t.rejects(MllpSender.connect(h.port, { ...client(pki, 'chu-lyon'), ca: foreign.read('ca.crt') }), 'a client trusting another CA refuses us');
});
