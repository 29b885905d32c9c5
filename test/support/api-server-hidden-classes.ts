/**
 * Run with `--allow-natives-syntax` (V8's own introspection): serves requests through the API server, a route
 * with path parameters, a JSON body and a query as the app's are, and prints one JSON line about the last two
 * requests and responses, taken once they are finished (every field express and Node add is on them by then):
 * { node, sameMap: [requests, responses], fast: [request, response] }.
 */
import express from 'express';
import { createApiServer } from '@aurora/app/http/server';

// V8 natives syntax parses only in a function body compiled at run time.
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
const hasFastProperties = new Function('a', 'return %HasFastProperties(a)') as (a: object) => boolean;

const app = express();
app.use(express.json());
const finished: Array<[object, object]> = [];
app.put('/users/:userId/credentials/:type', (req, res) => {
  res.on('finish', () => finished.push([req, res]));
  res.status(201).json({ user: req.params.userId, type: req.params.type, body: req.body as unknown, q: req.query });
});
const server = createApiServer(app);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as { port: number };
for (let i = 0; i < 50; i++) {
  const res = await fetch(`http://127.0.0.1:${port}/users/u${i}/credentials/db?n=${i}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data: { token: String(i) } }),
  });
  await res.text();
}
const [[reqA, resA], [reqB, resB]] = finished.slice(-2) as [[object, object], [object, object]];
console.log(
  JSON.stringify({
    node: process.version,
    sameMap: [haveSameMap(reqA, reqB), haveSameMap(resA, resB)],
    fast: [hasFastProperties(reqB), hasFastProperties(resB)],
  }),
);
server.closeAllConnections();
server.close();
