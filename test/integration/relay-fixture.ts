/**
 * Shared fixture for the relay and directory integration tests: a gateway on a fresh config with
 * a messaging section and identity keys, plus a small client (device registration, sealing,
 * ws and HTTP inbox) built from the crypto module only, as a real client would be.
 */
import WebSocket from 'ws';
import { toBase64Url } from '../../protocol/crypto/base64url.js';
import { encodeEnvelope } from '../../protocol/crypto/envelope-codec.js';
import { sealEnvelope, type SealContent } from '../../protocol/crypto/envelope-seal.js';
import { SUITES, type Envelope, type Suite } from '../../protocol/crypto/envelope-types.js';
import { generateDeviceKeys, type DeviceKeys } from '../../protocol/crypto/keys.js';
import { cryptoReady } from '../../protocol/crypto/primitives.js';
import { certToWire, signDeviceCert, type DeviceCert } from '../../protocol/device-cert.js';
import { createLogger } from '../../gateway/log.js';
import { startGateway, type Gateway } from '../../gateway/main.js';
import { enableMessaging, LogSink, mustLoad, TEST_PARTICIPANTS, writeTestConfig, type TestConfig, type TestParticipant } from '../helpers/gateway.js';

/** Default policy of the fixture: hospitals and labs ↔ professionals, professionals ↔ insurers. */
export const TEST_POLICY = `  policy:
    - { from: [hospital, lab], to: [professional], both: true }
    - { from: [professional], to: [insurer], both: true }
`;

/** A participant's identity key pair. */
export interface Identity {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/** A running messaging gateway and its test client helpers. */
export interface MessagingGateway extends TestConfig {
  gateway: Gateway;
  logs: LogSink;
  identities: Record<TestParticipant, Identity>;
  as(participant: TestParticipant | undefined, path: string, init?: RequestInit): Promise<Response>;
  /** Stop the gateway, keep the config directory (restart tests). */
  stop(): Promise<void>;
  /** Start again on the same directory. */
  restart(): Promise<void>;
}

/**
 * Write participants.yaml with identity keys and add a messaging section to gateway.yaml.
 * @param cfg - from writeTestConfig
 * @param identities - identity keys per participant
 * @param extra - appended to the messaging section (limits, policy)
 */
export function writeMessagingConfig(cfg: TestConfig, identities: Record<TestParticipant, Identity>, extra = TEST_POLICY): void {
  enableMessaging(cfg, Object.fromEntries(Object.entries(identities).map(([id, i]) => [id, toBase64Url(i.publicKey)])), extra);
}

/**
 * Start a gateway with messaging on a fresh config.
 * @param options.store - lmdb or redis
 * @param options.messaging - extra messaging YAML (indented two spaces), default TEST_POLICY
 */
export async function startMessagingGateway(options: { store: 'lmdb' | 'redis'; messaging?: string; logLevel?: string } = { store: 'lmdb' }): Promise<MessagingGateway> {
  const s = await cryptoReady();
  const cfg = writeTestConfig({ store: options.store, logLevel: options.logLevel ?? 'debug' });
  const identities = Object.fromEntries(Object.keys(TEST_PARTICIPANTS).map((id) => { const kp = s.crypto_sign_keypair(); return [id, { publicKey: kp.publicKey, privateKey: kp.privateKey }]; })) as Record<TestParticipant, Identity>;
  writeMessagingConfig(cfg, identities, options.messaging ?? TEST_POLICY);
  const logs = new LogSink();
  const start = (): Promise<Gateway> => startGateway(mustLoad(cfg.dir), createLogger({ level: options.logLevel ?? 'debug', destination: logs }));
  const m: MessagingGateway = {
    ...cfg, logs, identities, gateway: await start(),
    as(participant, path, init = {}) {
      const headers = new Headers(init.headers);
      if (participant) headers.set('authorization', `Bearer ${cfg.tokens[participant]}`);
      return fetch(`${m.gateway.url}${path}`, { ...init, headers });
    },
    async stop() {
      await m.gateway.stop();
    },
    async restart() {
      m.gateway = await start();
    },
    async cleanup() {
      await m.gateway.stop();
      await cfg.cleanup();
    },
  };
  return m;
}

/** A client device: its keys and certificate. */
export interface TestDevice {
  participant: TestParticipant;
  deviceId: string;
  keys: DeviceKeys;
  cert: DeviceCert;
}

/**
 * Make a device certificate signed by the participant's identity key.
 * @param overrides - change cert fields (bad keys, validity) for refusal tests
 */
export async function makeDevice(gw: MessagingGateway, participant: TestParticipant, deviceId: string,
  overrides: Partial<DeviceCert> = {}): Promise<TestDevice & { body: { cert: unknown; sig: string } }> {
  const s = await cryptoReady();
  const keys = await generateDeviceKeys();
  const now = Date.now();
  const cert: DeviceCert = {
    participant, deviceId, sigKey: keys.sign.publicKey, encKeyX25519: keys.x25519.publicKey, encKeyXWing: keys.xwing!.publicKey,
    notBefore: now - 1000, notAfter: now + 7 * 24 * 3600 * 1000, capabilities: [SUITES.classic, SUITES.hybrid], ...overrides,
  };
  const sig = signDeviceCert(s, cert, gw.identities[participant].privateKey);
  return { participant, deviceId, keys, cert, body: { cert: certToWire(cert), sig: toBase64Url(sig) } };
}

/** Make and register a device; fails the test run loudly when refused. */
export async function registerDevice(gw: MessagingGateway, participant: TestParticipant, deviceId: string): Promise<TestDevice> {
  const d = await makeDevice(gw, participant, deviceId);
  const res = await gw.as(participant, '/v1/devices', { method: 'POST', body: JSON.stringify(d.body), headers: { 'content-type': 'application/json' } });
  if (res.status !== 201) throw new Error(`registration refused: ${res.status} ${await res.text()}`);
  return d;
}

/** Seal content from one device to others. */
export async function seal(from: TestDevice, to: readonly TestDevice[], content: SealContent, options: { suite?: Suite; attachments?: Parameters<typeof sealEnvelope>[0]['attachments']; ttlMs?: number } = {}): Promise<Envelope> {
  return sealEnvelope({
    suite: options.suite ?? SUITES.classic,
    sender: { participant: from.participant, device: from.deviceId, sign: from.keys.sign },
    recipients: to.map((d) => ({ participant: d.participant, device: d.deviceId, x25519: d.keys.x25519.publicKey, xwing: d.keys.xwing!.publicKey })),
    content, ...(options.attachments ? { attachments: options.attachments } : {}), ...(options.ttlMs ? { ttlMs: options.ttlMs } : {}),
  });
}

/** POST an envelope. */
export function postEnvelope(gw: MessagingGateway, sender: TestParticipant, env: Envelope | Uint8Array): Promise<Response> {
  const body = env instanceof Uint8Array ? env : encodeEnvelope(env);
  return gw.as(sender, '/v1/messages', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
}

/** A ws client that queues every frame it gets, for `next()`. */
export class TestSocket {
  readonly ws: WebSocket;
  readonly #frames: Array<Record<string, unknown>> = [];
  readonly #waiters: Array<(f: Record<string, unknown>) => void> = [];
  closeCode: number | undefined;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as Record<string, unknown>;
      const w = this.#waiters.shift();
      if (w) w(f);
      else this.#frames.push(f);
    });
    ws.on('close', (code) => { this.closeCode = code; });
  }

  /** Next frame (optionally of a type, skipping others), or a rejection after `ms`. */
  next(type?: string, ms = 5000): Promise<Record<string, unknown>> {
    const idx = this.#frames.findIndex((f) => type === undefined || f.type === type);
    if (idx >= 0) return Promise.resolve(this.#frames.splice(idx, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type ?? 'frame'} within ${ms} ms`)), ms);
      const waiter = (f: Record<string, unknown>): void => {
        if (type !== undefined && f.type !== type) {
          this.#frames.push(f);
          this.#waiters.unshift(waiter);
          return;
        }
        clearTimeout(timer);
        resolve(f);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Frames received and not yet taken. */
  get pending(): number {
    return this.#frames.length;
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/**
 * Open `/v1/ws?device=…` with a bearer token.
 * @returns the socket once open, or the HTTP status of a refused upgrade
 */
export function connect(gw: MessagingGateway, participant: TestParticipant | undefined, deviceId: string): Promise<TestSocket | { status: number; body: string }> {
  const url = `${gw.gateway.url.replace(/^http/, 'ws')}/v1/ws?device=${encodeURIComponent(deviceId)}`;
  const ws = new WebSocket(url, { headers: participant ? { authorization: `Bearer ${gw.tokens[participant]}` } : {} });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(new TestSocket(ws)));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

/** Connect and insist on success. */
export async function mustConnect(gw: MessagingGateway, participant: TestParticipant, deviceId: string): Promise<TestSocket> {
  const c = await connect(gw, participant, deviceId);
  if (!(c instanceof TestSocket)) throw new Error(`upgrade refused: ${c.status}`);
  return c;
}
