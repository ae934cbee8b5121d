/**
 * Relay end to end: sender device → gateway → recipient device over ws, durable on LMDB (envelope,
 * receipt, queue entry and audit entry in one commit, fsynced before `accepted`; concurrent
 * accepts share commits), with 100 connected devices: 50
 * professionals with one device each, sending to 50 devices of one insurer, paired. The gateway
 * is a child process (`bin/passerelle.js start`), as users run it; the devices are this process,
 * on the same machine, and both processes' CPU is reported. Latency is from the sender's `send`
 * frame to the recipient's `envelope` frame; recipients ack every envelope (which completes the
 * lease and signs a delivered receipt). Baseline in the same run: a bare `ws` server (in this
 * process) forwarding the same frames between the same 100 sockets, with no verification and no
 * storage (the network + JSON floor). Envelopes are sealed before timing: sealing is the
 * client's cost (see the envelope bench).
 *
 * The relay rows also count LMDB commits per envelope (each one fsync), accept, claim and delivery
 * together: under load the group commit shares one among many.
 *
 * Run: npm run bench -- relay   (MESSAGES=n, WINDOWS=1,4; PIPELINE_GATEWAY_NODE_ARGS profiles the gateway)
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open as openLmdb } from 'lmdb';
import { WebSocket, WebSocketServer } from 'ws';
import { toBase64Url } from '../protocol/crypto/base64url.js';
import { encodeEnvelope } from '../protocol/crypto/envelope-codec.js';
import { sealEnvelope } from '../protocol/crypto/envelope-seal.js';
import { SUITES } from '../protocol/crypto/envelope-types.js';
import { generateDeviceKeys, type DeviceKeys } from '../protocol/crypto/keys.js';
import { cryptoReady } from '../protocol/crypto/primitives.js';
import { certToWire, signDeviceCert } from '../protocol/device-cert.js';
import { freePort } from './lib/bench-config.js';
import { GatewayProcess } from './lib/gateway-process.js';
import { percentile } from './lib/stats.js';

/** dist/bench/ → the repository root (bin/). */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PAIRS = 50;
const MESSAGES = Number(process.env.MESSAGES ?? 5000);
const WINDOWS = (process.env.WINDOWS ?? '1,4').split(',').map(Number);
const utf8 = new TextDecoder();
const SEND_PREFIX = '{"type":"send","ref":"';
const FLOOR_PREFIX = '{"type":"envelope","id":"';
/** Envelope ids are 16 bytes: 22 base64url characters. */
const ID_CHARS = 22;

/** What must not outlive the bench, even when it fails: the gateway child, the temp dir. */
const leftovers = new Set<() => void>();
process.once('exit', () => { for (const undo of leftovers) undo(); });

interface Device { participant: string; deviceId: string; keys: DeviceKeys }
interface Result { name: string; msgs: number; secs: number; p50: number; p99: number; commits?: string; cpu?: string }

const f0 = (n: number): string => n.toFixed(0);

/** The gateway child process and the devices registered on it. */
interface Env { dir: string; url: string; gateway: GatewayProcess; tokens: Record<string, string>; stop: () => Promise<void>; senders: Device[]; recipients: Device[] }

/**
 * A gateway of its own (child process: its event loop is not the load generator's) with PAIRS
 * professional participants, one device each, and one insurer with PAIRS devices. Each sender is
 * its own participant because a `delivered` receipt goes to every connected device of the
 * sender's participant: one participant with 50 devices would send each receipt 50 times.
 */
async function setup(): Promise<Env> {
  const s = await cryptoReady();
  const dir = mkdtempSync(join(tmpdir(), 'relay-bench-'));
  leftovers.add(() => rmSync(dir, { recursive: true, force: true }));
  const names = [...Array.from({ length: PAIRS }, (_, i) => `pro-${i}`), 'ins'];
  const ids = Object.fromEntries(names.map((n) => [n, s.crypto_sign_keypair()]));
  const tokens = Object.fromEntries(names.map((n) => [n, randomBytes(32).toString('base64url')]));
  const sha = (x: string): string => createHash('sha256').update(x).digest('hex');
  const httpPort = await freePort();
  writeFileSync(join(dir, 'data.key'), randomBytes(32).toString('hex'));
  writeFileSync(join(dir, 'gateway.yaml'), `http:\n  host: 127.0.0.1\n  port: ${httpPort}\nstore:\n  kind: lmdb\n  path: data/lmdb\ndataKey:\n  ref: file:data.key\nlog:\n  level: warn\n`
    + `messaging:\n  directoryKey: { ref: file:dir.key, generateIfMissing: true }\n  serviceKey: { ref: file:svc.key, generateIfMissing: true }\n  blobDir: data/blobs\n`
    + `  limits: { messagesPerMinute: 100000000, bytesPerMinute: 100000000000 }\n  policy:\n    - { from: [professional], to: [insurer], both: true }\n`);
  writeFileSync(join(dir, 'participants.yaml'), `participants:\n${names.map((n) => `  - { id: ${n}, kind: ${n === 'ins' ? 'insurer' : 'professional'}, name: ${n}, `
    + `identityKey: ${toBase64Url(ids[n]!.publicKey)}, tokens: [{ sha256: ${sha(tokens[n]!)} }] }\n`).join('')}`);
  writeFileSync(join(dir, 'feeds.yaml'), 'feeds: []\n');
  writeFileSync(join(dir, 'routes.yaml'), 'routes: []\n');
  const gateway = await GatewayProcess.start(REPO, { dir, httpPort, mllpPort: 0, lmdbPath: join(dir, 'data/lmdb'), adminToken: '', labToken: '' });
  leftovers.add(() => gateway.kill());
  const register = async (participant: string, deviceId: string): Promise<Device> => {
    const keys = await generateDeviceKeys({ xwing: false });
    const now = Date.now();
    const cert = { participant, deviceId, sigKey: keys.sign.publicKey, encKeyX25519: keys.x25519.publicKey, notBefore: now - 1000, notAfter: now + 86400_000, capabilities: [SUITES.classic] };
    const res = await fetch(`${gateway.url}/v1/devices`, {
      method: 'POST', headers: { authorization: `Bearer ${tokens[participant]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ cert: certToWire(cert), sig: toBase64Url(signDeviceCert(s, cert, ids[participant]!.privateKey)) }),
    });
    if (res.status !== 201) throw new Error(`register ${res.status}`);
    return { participant, deviceId, keys };
  };
  const senders: Device[] = [];
  const recipients: Device[] = [];
  for (let i = 0; i < PAIRS; i++) {
    senders.push(await register(`pro-${i}`, `pro-${i}-d`));
    recipients.push(await register('ins', `ins-${i}`));
  }
  return { dir, url: gateway.url, gateway, tokens, senders, recipients, stop: async () => { await gateway.stop(); rmSync(dir, { recursive: true, force: true }); } };
}

/** Pre-sealed frames: `send` frames of pair i go from senders[i] to recipients[i]. */
async function frames(senders: Device[], recipients: Device[], count: number): Promise<string[][]> {
  const out: string[][] = senders.map(() => []);
  for (let n = 0; n < count; n++) {
    const i = n % senders.length;
    const from = senders[i]!;
    const to = recipients[i]!;
    const env = await sealEnvelope({
      suite: SUITES.classic, sender: { participant: from.participant, device: from.deviceId, sign: from.keys.sign },
      recipients: [{ participant: to.participant, device: to.deviceId, x25519: to.keys.x25519.publicKey }],
      content: { type: 'text', subject: 'bench', body: { n, pad: 'x'.repeat(400) } },
    });
    out[i]!.push(`${SEND_PREFIX}${toBase64Url(env.id)}","envelope":${utf8.decode(encodeEnvelope(env))}}`);
  }
  return out;
}

function open(url: string, token?: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
  return new Promise((resolve, reject) => { ws.once('open', () => resolve(ws)); ws.once('error', reject); });
}

/**
 * Drive `perPair` frames over each sender socket with `window` outstanding; a message is complete
 * when its recipient sees it. `idOf` extracts the envelope id from what the recipient receives.
 */
async function drive(name: string, window: number, senders: WebSocket[], recipients: WebSocket[], perPair: string[][],
  onRecipient: (ws: WebSocket, text: string) => string | undefined): Promise<Result> {
  const sentAt = new Map<string, number>();
  const lat: number[] = [];
  const total = perPair.reduce((n, l) => n + l.length, 0);
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => { finish = r; });
  const next = perPair.map(() => 0);
  const pump = (i: number): void => {
    const list = perPair[i]!;
    if (next[i]! >= list.length) return;
    const frame = list[next[i]!++]!;
    sentAt.set(frame.slice(SEND_PREFIX.length, SEND_PREFIX.length + ID_CHARS), Number(process.hrtime.bigint() / 1000n));
    senders[i]!.send(frame);
  };
  recipients.forEach((ws, i) => ws.on('message', (data) => {
    const id = onRecipient(ws, data.toString());
    if (id === undefined) return;
    const t0 = sentAt.get(id);
    if (t0 !== undefined) lat.push(Number(process.hrtime.bigint() / 1000n) - t0);
    done++;
    pump(i);
    if (done === total) finish();
  }));
  // A bench that stops making progress is a bug report, not a hang.
  let last = -1;
  const watchdog = setInterval(() => {
    if (done === last) {
      clearInterval(watchdog);
      process.stderr.write(`${name}: stalled at ${done}/${total} (sent ${sentAt.size})\n`);
      process.exit(2);
    }
    last = done;
  }, 15_000);
  void finished.then(() => clearInterval(watchdog));
  const start = process.hrtime.bigint();
  for (let i = 0; i < perPair.length; i++) for (let w = 0; w < window; w++) pump(i);
  await finished;
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  for (const ws of recipients) ws.removeAllListeners('message');
  lat.sort((a, b) => a - b);
  return { name, msgs: total, secs, p50: percentile(lat, 0.5) / 1000, p99: percentile(lat, 0.99) / 1000 };
}

async function floor(perPair: string[][], window: number): Promise<Result> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  const port = (wss.address() as { port: number }).port;
  const byPath = new Map<string, WebSocket>();
  wss.on('connection', (ws, req) => {
    byPath.set(req.url ?? '', ws);
    // Forward s<i> → r<i> as an envelope frame, as the relay would (no checks, no storage).
    ws.on('message', (d) => {
      const text = d.toString();
      byPath.get((req.url ?? '').replace('/s', '/r'))?.send(`${FLOOR_PREFIX}${text.slice(SEND_PREFIX.length, SEND_PREFIX.length + ID_CHARS)}","envelope":${text.slice(text.indexOf('"envelope":') + 11, -1)}}`);
    });
  });
  const senders: WebSocket[] = [];
  const recipients: WebSocket[] = [];
  for (let i = 0; i < PAIRS; i++) {
    senders.push(await open(`ws://127.0.0.1:${port}/s${i}`));
    recipients.push(await open(`ws://127.0.0.1:${port}/r${i}`));
  }
  const r = await drive(`ws forward floor (no verify, no store), window ${window}`, window, senders, recipients, perPair, (_ws, text) => text.slice(FLOOR_PREFIX.length, FLOOR_PREFIX.length + ID_CHARS));
  for (const ws of [...senders, ...recipients]) ws.close();
  await new Promise((res) => wss.close(() => res(undefined)));
  return r;
}

/** Committed write transactions so far (read-only: a writable open could wait on the gateway's writer lock). */
function commits(dir: string): number {
  return (openLmdb({ path: join(dir, 'data/lmdb'), readOnly: true }).getStats() as { lastTxnId: number }).lastTxnId;
}

async function relay(env: Env, perPair: string[][], window: number): Promise<Result> {
  const wsUrl = env.url.replace(/^http/, 'ws');
  const senders: WebSocket[] = [];
  const recipients: WebSocket[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const sender = env.senders[i]!;
    senders.push(await open(`${wsUrl}/v1/ws?device=${sender.deviceId}`, env.tokens[sender.participant]));
    recipients.push(await open(`${wsUrl}/v1/ws?device=${env.recipients[i]!.deviceId}`, env.tokens.ins));
  }
  let refused = 0;
  for (const s of senders) s.on('message', (d) => { if (d.toString().startsWith('{"type":"error"')) refused++; });
  const before = commits(env.dir);
  const cpu0 = env.gateway.proc().cpuSeconds;
  const load0 = process.cpuUsage();
  const r = await drive(`passerelle relay (verify + LMDB durable + ack), window ${window}`, window, senders, recipients, perPair, (ws, text) => {
    if (!text.startsWith('{"type":"envelope"')) return undefined;
    const id = JSON.parse(text) as { id: string; accepted: { id: string } };
    ws.send(`{"type":"ack","id":${JSON.stringify(id.id)}}`);
    return id.accepted.id;
  });
  const gatewayCpu = env.gateway.proc().cpuSeconds - cpu0;
  const loadUsed = process.cpuUsage(load0);
  if (refused > 0) throw new Error(`${refused} envelopes refused`);
  for (const ws of [...senders, ...recipients]) ws.close();
  await new Promise((res) => setTimeout(res, 200));
  const after = commits(env.dir);
  return { ...r, commits: ((after - before) / r.msgs).toFixed(2), cpu: `${f0((100 * gatewayCpu) / r.secs)}% / ${f0((100 * (loadUsed.user + loadUsed.system)) / 1e6 / r.secs)}%` };
}

const env = await setup();
try {
  await relay(env, await frames(env.senders, env.recipients, PAIRS * 4), 4);
  const results: Result[] = [];
  for (const w of WINDOWS) {
    results.push(await floor(await frames(env.senders, env.recipients, MESSAGES), w));
    results.push(await relay(env, await frames(env.senders, env.recipients, MESSAGES), w));
  }
  console.log(`\n${PAIRS * 2} connected devices (${PAIRS} sender → recipient pairs), ${MESSAGES} messages per row; window = envelopes in flight per sender\n`);
  console.log('| case | msgs/s | p50 ms | p99 ms | LMDB commits / envelope | CPU: gateway / load generator (% of one core) |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of results) console.log(`| ${r.name} | ${Math.round(r.msgs / r.secs).toLocaleString('en')} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.commits ?? '—'} | ${r.cpu ?? '—'} |`);
} finally {
  await env.stop();
}
