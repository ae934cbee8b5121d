import t from 'tap';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../gateway/log.js';
import { startGateway, type Gateway } from '../../gateway/main.js';
import { enableMessaging, LogSink, mustLoad, writeTestConfig, type TestConfig } from '../helpers/gateway.js';

// Oversize bodies on the real listener: every route with a body limit answers 413 naming the limit,
// whether the body came with a Content-Length or chunked (hapi used to reset the socket on chunked).

const LIMIT = 4096;
const ER7 = 'x-application/hl7-v2+er7';

interface Answer { status: number; statusMessage: string; headers: IncomingHttpHeaders; body: string }

/**
 * One request on its own connection (no agent), the body written 1 KiB at a time: chunked framing
 * when `framing` is 'chunked' (Node's default without a Content-Length), otherwise a Content-Length.
 */
function send(gateway: Gateway, options: { path: string; token: string; body: Buffer; framing: 'chunked' | 'length'; headers?: Record<string, string> }): Promise<Answer> {
  const url = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: url.hostname, port: url.port, method: 'POST', path: options.path, agent: false,
      headers: {
        authorization: `Bearer ${options.token}`, 'content-type': 'application/octet-stream', ...options.headers,
        ...(options.framing === 'length' ? { 'content-length': String(options.body.length) } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const write = async (): Promise<void> => {
      for (let at = 0; at < options.body.length; at += 1024) {
        if (!req.write(options.body.subarray(at, at + 1024))) await new Promise((r) => req.once('drain', r));
      }
      req.end();
    };
    write().catch(reject);
  });
}

let cfg: TestConfig;
let gateway: Gateway;
t.before(async () => {
  cfg = writeTestConfig({ store: 'lmdb', extraFeeds: '  - name: small-raw\n    owner: chu-lyon\n    format: raw\n    maxBodyBytes: 2048\n' });
  const gw = join(cfg.dir, 'gateway.yaml');
  writeFileSync(gw, `${readFileSync(gw, 'utf8')}limits:\n  maxBodyBytes: ${LIMIT}\n`);
  enableMessaging(cfg, {}, `  limits:\n    maxEnvelopeBytes: ${LIMIT}\n    maxBlobBytes: ${LIMIT}\n`);
  gateway = await startGateway(mustLoad(cfg.dir), createLogger({ level: 'silent', destination: new LogSink() }));
});
t.teardown(async () => {
  await gateway.stop();
  await cfg.cleanup();
});

const hl7 = (bytes: number): Buffer => {
  const head = 'MSH|^~\\&|HIS|CHU|GW|GW|20260101120000||ADT^A01|LIMIT-1|P|2.5.1\rPID|1||P-1^^^CHU^MR||DOE^J\rZPD|1|';
  return Buffer.from(`${head}${'x'.repeat(bytes - head.length - 1)}\r`, 'latin1');
};

/** Each kind of route that reads a body, with its limit and the headers it needs. */
const ROUTES = [
  { name: 'raw intake', path: '/v1/raw/chu-adt', limit: LIMIT, headers: {} },
  { name: 'HL7 over HTTP', path: '/hl7/chu-adt', limit: LIMIT, headers: { 'content-type': ER7 } },
  { name: 'relay envelope', path: '/v1/messages', limit: LIMIT, headers: {} },
  { name: 'directory (parsed JSON)', path: '/v1/devices', limit: 64 * 1024, headers: { 'content-type': 'application/json' } },
  { name: 'blob upload (streamed)', path: '/v1/blobs', limit: LIMIT, headers: { 'x-blob-ref': 'att_limit', 'x-blob-size': String(LIMIT + 1), 'x-blob-hash': 'A'.repeat(43) } },
] as const;

t.test('a body over the route limit answers 413 naming the limit, chunked or with a Content-Length', async (t) => {
  for (const route of ROUTES) {
    for (const framing of ['chunked', 'length'] as const) {
      const res = await send(gateway, { path: route.path, token: cfg.tokens['chu-lyon'], body: Buffer.alloc(route.limit * 3, 0x41), framing, headers: route.headers });
      t.equal(res.status, 413, `${route.name}, ${framing}: status`);
      t.equal(res.statusMessage, 'Payload Too Large', `${route.name}, ${framing}: reason phrase`);
      const body = JSON.parse(res.body) as { error: { code: string; message: string; reason: string } };
      t.equal(body.error.code, 'PSL_PAYLOAD_TOO_LARGE', `${route.name}, ${framing}: code`);
      t.equal(body.error.reason, 'too-big', `${route.name}, ${framing}: reason`);
      // The blob store refuses on the declared size with its own message; every other route names the limit.
      if (route.path !== '/v1/blobs') t.match(body.error.message, new RegExp(`limit of ${route.limit} bytes`), `${route.name}, ${framing}: message`);
    }
  }
});

t.test('a feed limit below the route limit names the feed limit, chunked too', async (t) => {
  const res = await send(gateway, { path: '/v1/raw/small-raw', token: cfg.tokens['chu-lyon'], body: Buffer.alloc(3000, 0x42), framing: 'chunked' });
  t.equal(res.status, 413);
  t.match(JSON.parse(res.body), { error: { code: 'PSL_PAYLOAD_TOO_LARGE', message: /feed limit of 2048 bytes/ } });
});

t.test('a body just under the limit is still accepted, chunked or not', async (t) => {
  for (const framing of ['chunked', 'length'] as const) {
    const raw = await send(gateway, { path: '/v1/raw/chu-adt', token: cfg.tokens['chu-lyon'], body: Buffer.alloc(LIMIT - 1, framing === 'chunked' ? 0x43 : 0x44), framing });
    t.equal(raw.status, 201, `raw intake, ${framing}`);
    const ack = await send(gateway, { path: '/hl7/chu-adt', token: cfg.tokens['chu-lyon'], body: hl7(LIMIT - 1), framing, headers: { 'content-type': ER7 } });
    t.equal(ack.status, 200, `HL7 over HTTP, ${framing}`);
    t.match(ack.body, /MSA\|(AA|CA)\|LIMIT-1/);
  }
});

t.test('what was accepted before a refusal stays, and a fresh connection works after it', async (t) => {
  const before = await send(gateway, { path: '/v1/raw/chu-adt', token: cfg.tokens['chu-lyon'], body: Buffer.from('kept body'), framing: 'chunked' });
  t.equal(before.status, 201);
  const { rawId } = JSON.parse(before.body) as { rawId: string };
  const refused = await send(gateway, { path: '/v1/raw/chu-adt', token: cfg.tokens['chu-lyon'], body: Buffer.alloc(LIMIT * 10, 0x45), framing: 'chunked' });
  t.equal(refused.status, 413);
  const after = await send(gateway, { path: '/v1/raw/chu-adt', token: cfg.tokens['chu-lyon'], body: Buffer.from('next body'), framing: 'chunked' });
  t.equal(after.status, 201, 'the next request is accepted');
  const meta = await fetch(`${gateway.url}/v1/raw/${rawId}`, { headers: { authorization: `Bearer ${cfg.tokens['chu-lyon']}` } });
  t.equal(meta.status, 200, 'the raw accepted before the refusal is still there');
});
