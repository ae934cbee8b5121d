/**
 * The gateway's messaging HTTP API as the client uses it, in one place so a change of shape on
 * the relay or directory side is a change here only. Every call carries the participant's bearer
 * token. Bodies are ciphertext, public keys or ids: nothing here ever sees plaintext.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { codeForStatus, ERROR_REGISTRY, GatewayError, type ErrorCode } from '../protocol/errors.js';
import type { WireEnvelope } from '../protocol/crypto/envelope-types.js';
import type { RejectedReceipt } from '../protocol/crypto/rejected-receipt.js';
import type { DeviceRegistration } from './device-cert.js';

/** Declared attachment metadata, checked by the gateway at upload (ENVELOPE.md §4). */
export interface BlobDeclaration {
  readonly ref: string;
  readonly size: number;
  /** base64url BLAKE2b-256 of the ciphertext. */
  readonly hash: string;
}

type Json = Record<string, unknown>;

// Node's fetch streams a request body only in half-duplex mode; lib.dom's RequestInit lacks the field.
type StreamingInit = RequestInit & { duplex: 'half' };

/** Thin typed client over fetch. */
export class GatewayApi {
  readonly baseUrl: string;
  /** This device's id: inbox, ack and ws are per device. */
  readonly device: string;
  readonly #token: string;

  /**
   * @param baseUrl - e.g. https://gateway.example:8443 (no trailing slash needed)
   * @param token - the participant's bearer token
   * @param device - this device's id
   */
  constructor(baseUrl: string, token: string, device: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#token = token;
    this.device = device;
  }

  /** The ws URL of `/v1/ws?device=…` (same host, ws or wss). */
  get wsUrl(): string {
    return `${this.baseUrl.replace(/^http/, 'ws')}/v1/ws?device=${encodeURIComponent(this.device)}`;
  }

  /** Authorization header value (also used for the ws upgrade). */
  get authorization(): string {
    return `Bearer ${this.#token}`;
  }

  /** `GET /v1/messaging`: the gateway's public keys (directory, service), suites and limits. */
  messagingInfo(): Promise<Json> {
    return this.#json('GET', '/v1/messaging');
  }

  /** `POST /v1/devices` with `{ cert, sig }`. */
  registerDevice(body: DeviceRegistration): Promise<Json> {
    return this.#json('POST', '/v1/devices', body);
  }

  /** `GET /v1/directory/{participant}`. */
  directory(participant: string): Promise<Json> {
    return this.#json('GET', `/v1/directory/${encodeURIComponent(participant)}`);
  }

  /** `POST /v1/messages` with the wire envelope; resolves to the gateway's accepted receipt. */
  submit(envelope: WireEnvelope): Promise<Json> {
    return this.#json('POST', '/v1/messages', envelope);
  }

  /** `GET /v1/inbox?device=…&max=…`: envelopes waiting for this device, leased to it. */
  inbox(max = 100): Promise<Json> {
    return this.#json('GET', `/v1/inbox?${new URLSearchParams({ device: this.device, max: String(max) }).toString()}`);
  }

  /** `POST /v1/inbox/{id}/ack?device=…`, after the message is stored locally; answers the `delivered` receipt. */
  ack(id: string): Promise<Json> {
    return this.#json('POST', `/v1/inbox/${encodeURIComponent(id)}/ack?${new URLSearchParams({ device: this.device }).toString()}`);
  }

  /**
   * `POST /v1/inbox/{id}/reject?device=…` with this device's signed rejected receipt, for an
   * envelope it refused; answers `{ status: 'rejected', receipt }`.
   */
  reject(id: string, receipt: RejectedReceipt): Promise<Json> {
    return this.#json('POST', `/v1/inbox/${encodeURIComponent(id)}/reject?${new URLSearchParams({ device: this.device }).toString()}`, receipt);
  }

  /**
   * `POST /v1/blobs`: stream an attachment's ciphertext from a local file, declaring ref, size
   * and hash up front (x-blob-ref, x-blob-size, x-blob-hash) so the gateway can check them
   * without decrypting.
   */
  async uploadBlob(decl: BlobDeclaration, path: string): Promise<Json> {
    const body = Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>;
    const init: StreamingInit = {
      method: 'POST', body, duplex: 'half',
      headers: {
        authorization: this.authorization, 'content-type': 'application/octet-stream',
        'x-blob-ref': decl.ref, 'x-blob-size': String(decl.size), 'x-blob-hash': decl.hash,
      },
    };
    return this.#send('/v1/blobs', init);
  }

  /** `GET /v1/blobs/{ref}`: the ciphertext as a stream of chunks. */
  async downloadBlob(ref: string): Promise<AsyncIterable<Uint8Array>> {
    const res = await this.#fetch(`/v1/blobs/${encodeURIComponent(ref)}`, { headers: { authorization: this.authorization } });
    if (!res.ok) await failure(res);
    if (!res.body) throw new GatewayError('PSL_INTERNAL', `blob ${ref}: empty response`);
    return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  }

  async #json(method: string, path: string, body?: unknown): Promise<Json> {
    const headers: Record<string, string> = { authorization: this.authorization, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return this.#send(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  }

  async #send(path: string, init: RequestInit): Promise<Json> {
    const res = await this.#fetch(path, init);
    if (!res.ok) await failure(res);
    if (res.status === 204) return {};
    const text = await res.text();
    return text === '' ? {} : (JSON.parse(text) as Json);
  }

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    const url = `${this.baseUrl}${path}`;
    try {
      return await fetch(url, init);
    } catch (first) {
      // A kept-alive connection the server closed at the same moment fails the request before it
      // was processed; a read is safe to send once more on a fresh connection.
      const method = (init.method ?? 'GET').toUpperCase();
      if (method !== 'GET' && method !== 'HEAD') throw unreachable(this.baseUrl, first);
    }
    try {
      return await fetch(url, init);
    } catch (cause) {
      throw unreachable(this.baseUrl, cause);
    }
  }
}

function unreachable(baseUrl: string, cause: unknown): GatewayError {
  return new GatewayError('PSL_GATEWAY_UNREACHABLE', `gateway unreachable at ${baseUrl}`, { cause });
}

// What a person can do about the refusals a user meets in normal use (reasons are stable ids).
const HINTS: Readonly<Record<string, string>> = {
  'unknown-participant': 'the gateway has no identity key for that participant yet: the administrator pastes the `identityKey:` line its init printed into participants.yaml and restarts the gateway',
  signature: 'the identity key in participants.yaml is not this key file\'s: check the line the administrator pasted',
  policy: 'the gateway\'s messaging policy does not allow this participant to write to that recipient',
  'device-unknown': 'this device is not registered at this gateway: run `passerelle-client register`',
  'device-revoked': 'this device was revoked: create a new one with init and register it',
  quota: 'sending quota reached: retry later',
  'sender-expired': 'this device\'s certificate is outside its validity: run `passerelle-client rotate`',
};

/** Turn a non-2xx answer into a GatewayError with the gateway's code (and a hint) when it gave one. */
async function failure(res: Response): Promise<never> {
  let code: ErrorCode = codeForStatus(res.status);
  let message = `gateway answered ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown }; message?: unknown };
    const c = body.error?.code;
    if (typeof c === 'string' && c in ERROR_REGISTRY) code = c as ErrorCode;
    const m = body.error?.message ?? body.message;
    if (typeof m === 'string') message = `${message}: ${m}`;
    const reason = (body.error as { reason?: unknown } | undefined)?.reason;
    if (typeof reason === 'string' && HINTS[reason] !== undefined) message = `${message}; ${HINTS[reason]}`;
  } catch {
    // Not JSON: the status is all we have.
  }
  throw new GatewayError(code, message);
}
