/**
 * The API's HTTP server: node:http serving the express app, with request and response objects that are born
 * with the prototypes express gives them.
 *
 * express 5 re-points every request's and response's prototype at its own (`app.request`, `app.response`:
 * `Object.setPrototypeOf` in application.js `handle`). On Node 20 (V8 11.3) that gives each request and response a
 * hidden class of its own, so every property access after it, in express, the router and Node's HTTP code, misses
 * V8's inline caches (`node --log-ic`: about 120 misses per request for a bare express 5 app, none once the objects
 * are born on express's prototypes; its CPU per request fell by about two thirds). Node 24 (V8 13.6) shares one
 * hidden class between objects so re-pointed and was not slowed by it.
 *
 * Node lets a server choose the classes it builds requests and responses from (`http.createServer({IncomingMessage,
 * ServerResponse})`). Here they are subclasses of Node's own, placed between express's prototypes and the objects:
 * each class's prototype inherits from `app.request`/`app.response` and then takes its place as that, so express's
 * `setPrototypeOf` finds it already set and changes nothing, and the objects are built by a real constructor (V8
 * sizes them for their fields: fast properties, one hidden class, on Node 20 and 24 alike).
 */
import http from 'node:http';
import type net from 'node:net';
import type stream from 'node:stream';
import type express from 'express';

/** Apps whose request and response prototypes a server has taken over: one server per app. */
const served = new WeakSet<express.Express>();

/**
 * A node:http server for `app` (not listening yet). Takes over `app.request` and `app.response` (subclass
 * prototypes inheriting from them): call it once per app, once the app is built (sub-apps mounted before it do not
 * see later additions to `app.request`), and do not mount `app` in another express app afterwards. Idle keep-alive
 * connections are kept 65 s. A request Node refuses before express runs gets Node's own answer (431 headers too
 * large, 413 chunk extensions too large, 408 request timeout, 400 otherwise), as JSON like every other error.
 * @throws Error when `app` already has a server from here (a second one would re-point the first one's objects)
 */
export function createApiServer(app: express.Express): http.Server {
  if (served.has(app)) throw new Error('createApiServer: this express app already has a server; make one per app');
  served.add(app);
  class IncomingMessage extends http.IncomingMessage {}
  class ServerResponse extends http.ServerResponse {}
  Object.setPrototypeOf(IncomingMessage.prototype, app.request);
  Object.setPrototypeOf(ServerResponse.prototype, app.response);
  app.request = IncomingMessage.prototype as unknown as typeof app.request;
  app.response = ServerResponse.prototype as unknown as typeof app.response;
  const server = http.createServer({ IncomingMessage, ServerResponse }, app);
  server.keepAliveTimeout = 65_000;
  server.on('clientError', answerClientError);
  return server;
}

/** What Node answers to a request its parser or its timeouts refuse (lib/_http_server.js `socketOnError`). */
const REFUSALS: Record<string, { status: string; error: string; message: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: '431 Request Header Fields Too Large',
    error: 'headers_too_large',
    message: 'request headers are larger than 16 KB',
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: {
    status: '413 Payload Too Large',
    error: 'chunk_extensions_too_large',
    message: 'the chunk extensions of the request body are too large',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: '408 Request Timeout',
    error: 'request_timeout',
    message: 'the request was not received in time (headersTimeout / requestTimeout)',
  },
};
const MALFORMED = { status: '400 Bad Request', error: 'bad_request', message: 'malformed HTTP request' };

/**
 * Node's own answer, with a JSON body like every other error: only while nothing of a response has gone out on
 * the connection (else an answer would corrupt what the client reads). Then the connection is closed on our side
 * too, as Node's own handler does: a client that keeps its half open must not hold the socket.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: net.Socket | stream.Duplex): void {
  const inFlight = (socket as { _httpMessage?: http.ServerResponse })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const refusal = REFUSALS[err.code ?? ''] ?? MALFORMED;
  const body = JSON.stringify({ error: refusal.error, message: refusal.message });
  socket.end(
    `HTTP/1.1 ${refusal.status}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
