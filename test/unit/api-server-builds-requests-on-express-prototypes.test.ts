/**
 * The API's HTTP server builds every request and response on express's own prototypes, so express never has to
 * re-point them (on Node 20 that gave each one a hidden class of its own and cost V8's fast paths for the rest of
 * the request): on the host's Node and on the production images' Node, requests share one hidden class with fast
 * properties, and so do responses. express behaves exactly as it does on a plain node:http server. Requests Node
 * refuses before express runs get Node's own answers, as JSON.
 */
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import express from 'express';
import { createApiServer } from '@aurora/app/http/server';
import { repoRoot, TSX_NODE_ARGS } from '@aurora/process';

async function listening(app: express.Express): Promise<{ server: http.Server; url: string; port: number }> {
  const server = createApiServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { server, url: `http://127.0.0.1:${port}`, port };
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** Raw bytes to the server, its whole answer back (the server closes the connection after an error). */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(bytes));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

test('requests and responses arrive built on the app’s request and response prototypes', async () => {
  const app = express();
  const seen: boolean[] = [];
  app.get('/ping', (_req, res) => res.json({ ok: true }));
  const { server, url } = await listening(app);
  // Runs before express: what Node built, before express could touch it.
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push(Object.getPrototypeOf(req) === app.request, Object.getPrototypeOf(res) === app.response);
  });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${url}/ping`)).status, 200);
    assert.deepEqual(seen, [true, true, true, true, true, true]);
  } finally {
    await close(server);
  }
});

test('requests share one hidden class with fast properties, and so do responses, on both Nodes', () => {
  const production = execFileSync(path.join(repoRoot(), 'scripts/ensure-production-node.sh'), {
    encoding: 'utf8',
  }).trim();
  const script = path.join(repoRoot(), 'test/support/api-server-hidden-classes.ts');
  for (const node of new Set([process.execPath, production])) {
    const out = execFileSync(node, ['--allow-natives-syntax', ...TSX_NODE_ARGS, script], {
      encoding: 'utf8',
      cwd: repoRoot(),
    });
    const seen = JSON.parse(out.trim().split('\n').pop() as string) as {
      node: string;
      sameMap: boolean[];
      fast: boolean[];
    };
    assert.deepEqual(seen.sameMap, [true, true], `${seen.node}: requests / responses on one hidden class`);
    assert.deepEqual(seen.fast, [true, true], `${seen.node}: request / response with fast properties`);
  }
});

test('express works as on a plain server: params, headers, JSON bodies, status, errors, keep-alive', async () => {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json());
  app.put('/users/:userId/things/:type', (req, res) => {
    res
      .status(201)
      .set('ETag', '"3"')
      .json({
        user: req.params.userId,
        type: req.params.type,
        body: req.body as unknown,
        ifMatch: req.get('if-match'),
        path: req.path,
        nodeClasses: req instanceof http.IncomingMessage && res instanceof http.ServerResponse,
      });
  });
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.use(((err, _req, res, _next) => {
    res.status(500).json({ error: (err as Error).message });
  }) as express.ErrorRequestHandler);
  const { server, url } = await listening(app);
  try {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/users/u${i}/things/db?x=1`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'if-match': '"2"' },
        body: JSON.stringify({ data: { n: String(i) } }),
      });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('etag'), '"3"');
      assert.equal(res.headers.get('x-powered-by'), null);
      assert.deepEqual(await res.json(), {
        user: `u${i}`,
        type: 'db',
        body: { data: { n: String(i) } },
        ifMatch: '"2"',
        path: `/users/u${i}/things/db`,
        nodeClasses: true,
      });
    }
    const boom = await fetch(`${url}/boom`);
    assert.equal(boom.status, 500);
    assert.deepEqual(await boom.json(), { error: 'boom' });
    assert.equal((await fetch(`${url}/nothing`)).status, 404);
  } finally {
    await close(server);
  }
});

test('Node’s refusals keep Node’s status codes, as JSON: 431, 400, 413', async () => {
  const app = express();
  app.get('/', (_req, res) => res.json({ ok: true }));
  app.post('/', express.text(), (_req, res) => res.json({ ok: true }));
  // The refused body's read ends in an error express would print; this story is about what the client gets.
  app.set('env', 'test');
  const { server, port } = await listening(app);
  try {
    const big = await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
    assert.match(big, /content-type: application\/json/i);
    assert.match(big, /"error":"headers_too_large"/);
    const bad = await raw(port, 'NOT A REQUEST\r\n\r\n');
    assert.match(bad, /^HTTP\/1\.1 400 /);
    assert.match(bad, /"error":"bad_request"/);
    const extensions = await raw(
      port,
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `1;ext=${'a'.repeat(20 * 1024)}\r\nx\r\n0\r\n\r\n`,
    );
    assert.match(extensions, /^HTTP\/1\.1 413 /);
    assert.match(extensions, /"error":"chunk_extensions_too_large"/);
  } finally {
    await close(server);
  }
});

test('one server per app: a second would re-point the first one’s requests', () => {
  const app = express();
  createApiServer(app);
  assert.throws(() => createApiServer(app), /already has a server/);
});

test('a request whose headers never finish gets 408 Request Timeout, not 400', async () => {
  const app = express();
  app.get('/', (_req, res) => res.json({ ok: true }));
  const server = createApiServer(app);
  // Short timeouts, checked often, so that the story takes a second rather than a minute.
  server.headersTimeout = 500;
  server.requestTimeout = 500;
  (server as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval = 100;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const answer = await new Promise<string>((resolve, reject) => {
      // The headers never end: no blank line. The client keeps its half of the connection open.
      const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () =>
        socket.write('GET / HTTP/1.1\r\nHost: x\r\n'),
      );
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"error":"request_timeout"/);
    // The server closes its side too: a client that never closes its own does not hold the connection.
    const deadline = Date.now() + 10_000;
    let open = 1;
    while ((open = await new Promise<number>((r, j) => server.getConnections((e, n) => (e ? j(e) : r(n))))) > 0) {
      assert.ok(Date.now() < deadline, `${open} connection(s) still open 10 s after the 408`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await close(server);
  }
});
