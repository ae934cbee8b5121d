/**
 * The one registry of gateway error codes. Each entry says how the code looks on every wire:
 * HTTP status, HL7 ACK code (original mode) and whether a sender should retry.
 * Check errors with `err.code === 'PSL_…'`, never with instanceof or message text.
 */
export const ERROR_REGISTRY = {
  PSL_CONFIG_INVALID: { http: 500, ack: 'AR', retryable: false, message: 'configuration is invalid' },
  PSL_AUTH_REQUIRED: { http: 401, ack: 'AR', retryable: false, message: 'authentication required' },
  PSL_AUTH_INVALID: { http: 401, ack: 'AR', retryable: false, message: 'credentials not recognised' },
  PSL_FORBIDDEN: { http: 403, ack: 'AR', retryable: false, message: 'not permitted for this participant' },
  PSL_NOT_FOUND: { http: 404, ack: 'AR', retryable: false, message: 'not found' },
  PSL_FEED_UNKNOWN: { http: 404, ack: 'AR', retryable: false, message: 'unknown feed' },
  PSL_PAYLOAD_TOO_LARGE: { http: 413, ack: 'AR', retryable: false, message: 'payload exceeds the configured limit' },
  PSL_PAYLOAD_EMPTY: { http: 400, ack: 'AR', retryable: false, message: 'payload is empty' },
  PSL_BAD_REQUEST: { http: 400, ack: 'AR', retryable: false, message: 'request is malformed' },
  PSL_UNSUPPORTED_MEDIA: { http: 415, ack: 'AR', retryable: false, message: 'content type not accepted' },
  PSL_MLLP_FRAME_TOO_LARGE: { http: 413, ack: 'AR', retryable: false, message: 'MLLP frame exceeds the configured cap' },
  PSL_HL7_UNPARSEABLE: { http: 400, ack: 'AE', retryable: false, message: 'HL7 message cannot be parsed' },
  PSL_ENVELOPE_MALFORMED: { http: 400, ack: 'AR', retryable: false, message: 'envelope is malformed' },
  PSL_ENVELOPE_REJECTED: { http: 422, ack: 'AR', retryable: false, message: 'envelope refused (signature, sender, policy or time window)' },
  PSL_ENVELOPE_REPLAY: { http: 409, ack: 'AR', retryable: false, message: 'envelope id already seen' },
  PSL_ATTACHMENT_INVALID: { http: 422, ack: 'AR', retryable: false, message: 'attachment does not match its size or hash' },
  PSL_QUOTA_EXCEEDED: { http: 429, ack: 'AE', retryable: true, message: 'sender quota exceeded, retry later' },
  PSL_STORE_UNAVAILABLE: { http: 503, ack: 'AE', retryable: true, message: 'store unavailable, retry later' },
  PSL_STORE_CORRUPT: { http: 500, ack: 'AE', retryable: false, message: 'stored data failed its integrity check' },
  PSL_LEASE_LOST: { http: 409, ack: 'AE', retryable: true, message: 'queue lease expired or was taken over' },
  PSL_PORT_IN_USE: { http: 500, ack: 'AE', retryable: false, message: 'a configured listener port is already in use' },
  PSL_SHUTTING_DOWN: { http: 503, ack: 'AE', retryable: true, message: 'gateway is shutting down' },
  PSL_INTERNAL: { http: 500, ack: 'AE', retryable: true, message: 'internal error' },
} as const satisfies Record<string, { http: number; ack: 'AE' | 'AR'; retryable: boolean; message: string }>;

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

/** True when `err` carries one of our codes (works across module copies, unlike instanceof). */
export function isGatewayError(err: unknown): err is GatewayError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    && (err as { code: string }).code in ERROR_REGISTRY && err instanceof Error;
}
