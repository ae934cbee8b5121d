import Boom from '@hapi/boom';
import type { Request, ResponseToolkit, Server } from '@hapi/hapi';
import { codeForStatus, isGatewayError, type ErrorCode } from '../../protocol/errors.js';
import { operationOutcome, type IssueCode } from '../core/issues.js';
import type { Logger } from '../log.js';
import { bodyLimit } from './body-limit.js';

const FHIR_ISSUE: Record<number, IssueCode> = {
  400: 'structure', 401: 'security', 403: 'forbidden', 404: 'not-found', 413: 'too-long', 415: 'not-supported',
};

/**
 * The one HTTP error mapper. FHIR routes answer OperationOutcome; the others `{ error: { code, message } }`.
 * GatewayError messages name rules and locations, never values, so they are safe to return. Unknown
 * errors become a generic 500 and are logged with their stack.
 */
export function registerErrorMapper(server: Server, log: Logger): void {
  server.ext('onPreResponse', (request: Request, h: ResponseToolkit) => {
    const response = request.response;
    if (!Boom.isBoom(response)) return h.continue;
    let status: number;
    let code: ErrorCode;
    let message: string;
    if (isGatewayError(response)) {
      status = response.httpStatus;
      code = response.code;
      message = response.message;
      if (status >= 500) log.warn({ err: response, route: request.route.path }, 'request failed');
    } else if (response.isServer) {
      status = 500;
      code = 'PSL_INTERNAL';
      message = 'internal error';
      log.error({ err: response, route: request.route.path }, 'unhandled error');
    } else {
      status = response.output.statusCode;
      const data = response.data as { code?: ErrorCode } | null;
      // hapi's own errors (no route, bad JSON, payload limits) carry a status only.
      code = data?.code ?? codeForStatus(status);
      message = response.message;
      const limit = bodyLimit(request);
      // hapi's own 413 (declared length or counted chunks): say the limit in our words.
      if (status === 413 && limit !== undefined) message = `request body exceeds the limit of ${limit} bytes`;
    }
    const fhir = request.path.startsWith('/fhir/');
    const body = fhir
      ? operationOutcome([{ severity: 'error', code: FHIR_ISSUE[status] ?? (status >= 500 ? 'exception' : 'processing'), message: `${code}: ${message}` }])
      // `reason` as the messaging routes' refusals carry it, so their clients can switch on it.
      : { error: { code, message, ...(status === 413 ? { reason: 'too-big' } : {}) } };
    const out = h.response(body).code(status).type(fhir ? 'application/fhir+json' : 'application/json');
    // RFC 6750 section 3: a bare challenge when no token came, invalid_token when one did.
    if (status === 401) out.header('WWW-Authenticate', code === 'PSL_AUTH_INVALID' ? 'Bearer error="invalid_token"' : 'Bearer');
    return out;
  });
}
