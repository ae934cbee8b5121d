import type { Request, ResponseToolkit, Server } from '@hapi/hapi';

/**
 * Makes an oversize body answer 413 whatever its framing.
 *
 * hapi refuses a declared Content-Length over `payload.maxBytes` before reading, then drains the body
 * and answers 413. A chunked body has no length to check, so hapi counts it while reading; on overflow
 * its reader destroys the stream it reads from. When that stream is the request itself, Node destroys
 * the socket with it: the sender sees a reset instead of a 413 and retries the same body forever.
 *
 * A `peek` listener makes hapi read the body through a tap stream (hapi's documented request event),
 * so the overflow destroys the tap, not the socket. hapi then drains what is left of the body, as it
 * does for an over-long Content-Length, and the error mapper answers 413 naming the limit.
 * @param server - the gateway's hapi server (applies to every route, including ones added later)
 */
export function registerBodyLimit(server: Server): void {
  // onPreAuth: the route (and its limit) is known, and hapi has not started reading the body yet.
  server.ext('onPreAuth', (request: Request, h: ResponseToolkit) => {
    if (bodyLimit(request) !== undefined && isChunked(request)) request.events.on('peek', ignoreChunk);
    return h.continue;
  });
}

/** The route's body limit in bytes, or undefined for a route that reads no body. */
export function bodyLimit(request: Request): number | undefined {
  if (request.method === 'get' || request.method === 'head') return undefined;
  return request.route.settings.payload?.maxBytes;
}

function isChunked(request: Request): boolean {
  return request.headers['content-length'] === undefined && request.headers['transfer-encoding'] !== undefined;
}

function ignoreChunk(): void {
  // The listener exists only so hapi reads through a tap; the bytes are counted by hapi itself.
}
