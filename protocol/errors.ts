/**
 * The one registry of error codes, gateway and client alike. Each entry says how the code looks
 * on every wire: HTTP status (also the status of a refused ws upgrade), HL7 ACK code (original
 * mode), the ws close code when the error ends a relay connection, and whether a sender should
 * retry. Every boundary maps codes through it (http/errors.ts, relay/refusal.ts, ws-relay.ts), so
 * no status is chosen twice. Check errors with `err.code === 'PSL_…'`, never with instanceof or
 * message text.
 */
export const ERROR_REGISTRY = {
  PSL_CONFIG_INVALID: { http: 500, ack: 'AR', retryable: false, message: 'configuration is invalid', ws: 1008 },
  PSL_AUTH_REQUIRED: { http: 401, ack: 'AR', retryable: false, message: 'authentication required', ws: 4401 },
  PSL_AUTH_INVALID: { http: 401, ack: 'AR', retryable: false, message: 'credentials not recognised', ws: 4401 },
  PSL_FORBIDDEN: { http: 403, ack: 'AR', retryable: false, message: 'not permitted for this participant', ws: 4003 },
  PSL_NOT_FOUND: { http: 404, ack: 'AR', retryable: false, message: 'not found', ws: 1008 },
  PSL_FEED_UNKNOWN: { http: 404, ack: 'AR', retryable: false, message: 'unknown feed', ws: 1008 },
  PSL_PAYLOAD_TOO_LARGE: { http: 413, ack: 'AR', retryable: false, message: 'payload exceeds the configured limit', ws: 1009 },
  PSL_PAYLOAD_EMPTY: { http: 400, ack: 'AR', retryable: false, message: 'payload is empty', ws: 1008 },
  PSL_BAD_REQUEST: { http: 400, ack: 'AR', retryable: false, message: 'request is malformed', ws: 4400 },
  PSL_UNSUPPORTED_MEDIA: { http: 415, ack: 'AR', retryable: false, message: 'content type not accepted', ws: 1008 },
  PSL_MLLP_FRAME_TOO_LARGE: { http: 413, ack: 'AR', retryable: false, message: 'MLLP frame exceeds the configured cap', ws: 1008 },
  PSL_HL7_UNPARSEABLE: { http: 400, ack: 'AE', retryable: false, message: 'HL7 message cannot be parsed', ws: 1008 },
  PSL_ENVELOPE_MALFORMED: { http: 400, ack: 'AR', retryable: false, message: 'envelope is malformed', ws: 1008 },
  PSL_ENVELOPE_REJECTED: { http: 422, ack: 'AR', retryable: false, message: 'envelope refused (signature, sender, policy or time window)', ws: 1008 },
  PSL_CONFLICT: { http: 409, ack: 'AR', retryable: false, message: 'conflicts with what is already stored', ws: 1008 },
  PSL_ENVELOPE_REPLAY: { http: 409, ack: 'AR', retryable: false, message: 'envelope id already seen', ws: 1008 },
  PSL_ATTACHMENT_INVALID: { http: 422, ack: 'AR', retryable: false, message: 'attachment does not match its size or hash', ws: 1008 },
  PSL_QUOTA_EXCEEDED: { http: 429, ack: 'AE', retryable: true, message: 'sender quota exceeded, retry later', ws: 1008 },
  PSL_STORE_UNAVAILABLE: { http: 503, ack: 'AE', retryable: true, message: 'store unavailable, retry later', ws: 1013 },
  PSL_STORE_CORRUPT: { http: 500, ack: 'AE', retryable: false, message: 'stored data failed its integrity check', ws: 1008 },
  PSL_LEASE_LOST: { http: 409, ack: 'AE', retryable: true, message: 'queue lease expired or was taken over', ws: 1008 },
  PSL_BACKLOG_FULL: { http: 503, ack: 'AE', retryable: true, message: 'normalization backlog full: intake paused', ws: 1013 },
  PSL_TIMEOUT: { http: 503, ack: 'AE', retryable: true, message: 'an operation did not finish in time', ws: 1013 },
  PSL_PORT_IN_USE: { http: 500, ack: 'AE', retryable: false, message: 'a configured listener port is already in use', ws: 1008 },
  PSL_SHUTTING_DOWN: { http: 503, ack: 'AE', retryable: true, message: 'gateway is shutting down', ws: 1001 },
  PSL_GATEWAY_UNREACHABLE: { http: 503, ack: 'AE', retryable: true, message: 'gateway unreachable, retry later', ws: 1013 },
  PSL_DEPENDENCY_MISSING: { http: 500, ack: 'AE', retryable: false, message: 'an optional package this needs is not installed', ws: 1011 },
  PSL_INTERNAL: { http: 500, ack: 'AE', retryable: true, message: 'internal error', ws: 1011 },
} as const satisfies Record<string, { http: number; ack: 'AE' | 'AR'; retryable: boolean; message: string; ws: number }>;

export type ErrorCode = keyof typeof ERROR_REGISTRY;

/** The gateway's one error class: a stable code plus a message that names locations, never values. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  /**
   * @param code - registry code; decides HTTP status, ACK code and retryability
   * @param message - what rule failed and where (`PID-7`), never the offending value
   */
  constructor(code: ErrorCode, message?: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message ?? ERROR_REGISTRY[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.retryable = options.retryable ?? ERROR_REGISTRY[code].retryable;
  }

  get httpStatus(): number {
    return ERROR_REGISTRY[this.code].http;
  }
}

/** HTTP status of a code (also what a refused ws upgrade answers). */
export function httpStatusOf(code: ErrorCode): number {
  return ERROR_REGISTRY[code].http;
}

/** What an HTTP status without one of our codes in its body stands for (hapi's own errors, a proxy's answer). */
const STATUS_FALLBACK: Readonly<Record<number, ErrorCode>> = {
  400: 'PSL_BAD_REQUEST', 401: 'PSL_AUTH_REQUIRED', 403: 'PSL_FORBIDDEN', 404: 'PSL_NOT_FOUND', 409: 'PSL_CONFLICT',
  413: 'PSL_PAYLOAD_TOO_LARGE', 415: 'PSL_UNSUPPORTED_MEDIA', 429: 'PSL_QUOTA_EXCEEDED', 503: 'PSL_SHUTTING_DOWN',
};

/**
 * The registry code for a bare HTTP status: the fallback when an error carries no code of ours.
 * @returns the listed code, else PSL_BAD_REQUEST for 4xx and PSL_INTERNAL for anything else
 */
export function codeForStatus(status: number): ErrorCode {
  return STATUS_FALLBACK[status] ?? (status >= 400 && status < 500 ? 'PSL_BAD_REQUEST' : 'PSL_INTERNAL');
}

/** ws close code of a code that ends a relay connection. */
export function wsCloseOf(code: ErrorCode): number {
  return ERROR_REGISTRY[code].ws;
}

/** True when `err` carries one of our codes (works across module copies, unlike instanceof). */
export function isGatewayError(err: unknown): err is GatewayError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    && (err as { code: string }).code in ERROR_REGISTRY && err instanceof Error;
}
