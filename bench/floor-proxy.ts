/**
 * The floor of any Node.js process in front of Vault on this machine, measured beside the app by `make bench`:
 * a bare node:http server that answers `POST /users/<user>/credentials/<type>/resolve` with one keep-alive
 * `GET <VAULT_ADDR>/v1/<FLOOR_KV_MOUNT>/data/users/<user>/<type>` and the same JSON the app answers
 * (`{reference, version, data}`). No framework, no authentication, no cache, no log line, no metrics: what is left
 * is Node's own HTTP server and client and one JSON parse and stringify per request. The app's cache-miss resolve
 * does this plus everything the app exists for, so the gap between the two rows is the app's own cost, and the gap
 * between this row and raw Vault is what no Node process in front of Vault can avoid here.
 *
 * It is a measuring instrument, not a Vault client: it speaks Vault's HTTP API by hand on purpose, as the raw load
 * generator does, so that nothing of the project's client is in its figures.
 *
 * Environment: FLOOR_PORT (listens on 127.0.0.1), VAULT_ADDR (http only), VAULT_TOKEN, FLOOR_KV_MOUNT (default
 * aurora). Anything but a resolve path answers 404; a Vault answer other than 200 answers 502 with its status.
 */
import http from 'node:http';

const port = Number(process.env.FLOOR_PORT);
const vault = new URL(process.env.VAULT_ADDR ?? '');
const token = process.env.VAULT_TOKEN ?? '';
const mount = process.env.FLOOR_KV_MOUNT ?? 'aurora';
if (!Number.isInteger(port) || vault.protocol !== 'http:' || !token) {
  process.stderr.write('floor-proxy: set FLOOR_PORT, VAULT_ADDR (http://…) and VAULT_TOKEN\n');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const RESOLVE = /^\/users\/([^/]+)\/credentials\/([^/]+)\/resolve$/;
// eslint-disable-next-line no-restricted-syntax -- the instrument measures Node's HTTP without the project's client
const API_PREFIX = `/v1/${mount}/data/users`;

function answer(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

http
  .createServer((req, res) => {
    req.resume();
    const m = RESOLVE.exec(req.url ?? '');
    if (!m) return answer(res, 404, '{"error":"not_found"}');
    const path = `${API_PREFIX}/${m[1]}/${m[2]}`;
    const call = http.request(
      { hostname: vault.hostname, port: vault.port, path, agent, headers: { 'x-vault-token': token } },
      (vres) => {
        let text = '';
        vres.setEncoding('utf8');
        vres.on('data', (chunk: string) => (text += chunk));
        vres.on('end', () => {
          if (vres.statusCode !== 200) return answer(res, 502, JSON.stringify({ vault_status: vres.statusCode }));
          const secret = JSON.parse(text) as { data: { data: unknown; metadata: { version: number } } };
          answer(
            res,
            200,
            JSON.stringify({
              reference: `vault:${path.slice(4)}`,
              version: secret.data.metadata.version,
              data: secret.data.data,
            }),
          );
        });
      },
    );
    call.on('error', (err) => answer(res, 502, JSON.stringify({ error: err.message })));
    call.end();
  })
  .listen(port, '127.0.0.1', () => process.stdout.write(`floor-proxy listening on 127.0.0.1:${port}\n`));
