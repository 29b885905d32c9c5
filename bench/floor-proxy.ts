/**
 * The floor of any Node.js process in front of Vault on this machine, measured beside the app by `make bench`:
 * a bare node:http server, no framework, no authentication, no cache, no log line, no metrics.
 *
 *  - `POST /users/<user>/credentials/<type>/resolve`: one keep-alive
 *    `GET <VAULT_ADDR>/v1/<FLOOR_KV_MOUNT>/data/users/<user>/<type>`, answered with the JSON the app answers
 *    (`{reference, version, data}`). What is left is Node's own HTTP server and client and one JSON parse and
 *    stringify per request.
 *  - `PUT /users/<user>/credentials/<type>` with `{"data": {...}}` (only when DATABASE_URL is set): the write the
 *    app makes, with the same crash-safe order and the same SQL, on node-postgres (pg) with a pool the app's
 *    default size: BEGIN with the credential's advisory locks and its row read in one round trip, the Vault
 *    write, the upsert, COMMIT. Answers 201 with `{reference, version}`.
 *
 * The app does this plus everything it exists for, so the gap between its rows and these is the app's own cost,
 * and the gap between these and raw Vault is what no Node process in front of Vault (and, for writes,
 * PostgreSQL) can avoid here.
 *
 * It is a measuring instrument, not a Vault client: it speaks Vault's HTTP API by hand on purpose, as the raw load
 * generator does, so that nothing of the project's client is in its figures. Only the lock SQL comes from
 * @aurora/common, so that the floor locks exactly as the app does.
 *
 * Environment: FLOOR_PORT (listens on 127.0.0.1), VAULT_ADDR (http only), VAULT_TOKEN, FLOOR_KV_MOUNT (default
 * aurora), DATABASE_URL (a node-postgres connection string; optional). Anything else answers 404; a Vault answer
 * other than 200 answers 502 with its status.
 */
import http from 'node:http';
import pg from 'pg';
import { credentialLockKey, credentialLocksFromItem } from '@aurora/common';

const port = Number(process.env.FLOOR_PORT);
const vault = new URL(process.env.VAULT_ADDR ?? '');
const token = process.env.VAULT_TOKEN ?? '';
const mount = process.env.FLOOR_KV_MOUNT ?? 'aurora';
if (!Number.isInteger(port) || vault.protocol !== 'http:' || !token) {
  process.stderr.write('floor-proxy: set FLOOR_PORT, VAULT_ADDR (http://…) and VAULT_TOKEN\n');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
// PG_POOL_SIZE's default in the app: each write holds a connection across its Vault write, as the app's does.
const pool = process.env.DATABASE_URL
  ? new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 })
  : undefined;
// An idle connection PostgreSQL drops (the stack going away) must not end the instrument mid-run.
pool?.on('error', () => undefined);
const RESOLVE = /^\/users\/([^/]+)\/credentials\/([^/]+)\/resolve$/;
const WRITE = /^\/users\/([^/]+)\/credentials\/([^/]+)$/;
// eslint-disable-next-line no-restricted-syntax -- the instrument measures Node's HTTP without the project's client
const API_PREFIX = `/v1/${mount}/data/users`;

function answer(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

/** One Vault call on the keep-alive agent: its status and parsed JSON (undefined when empty). */
function vaultCall(method: string, path: string, body?: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { 'x-vault-token': token };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const call = http.request({ hostname: vault.hostname, port: vault.port, path, method, agent, headers }, (vres) => {
      let text = '';
      vres.setEncoding('utf8');
      vres.on('data', (chunk: string) => (text += chunk));
      vres.on('end', () => {
        try {
          resolve({ status: vres.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : undefined });
        } catch (err) {
          reject(err as Error);
        }
      });
      vres.on('error', reject);
    });
    call.on('error', reject);
    call.end(body);
  });
}

async function resolveCredential(res: http.ServerResponse, user: string, type: string): Promise<void> {
  const path = `${API_PREFIX}/${user}/${type}`;
  const { status, json } = await vaultCall('GET', path);
  if (status !== 200) return answer(res, 502, JSON.stringify({ vault_status: status }));
  const secret = json as { data: { data: unknown; metadata: { version: number } } };
  answer(
    res,
    200,
    JSON.stringify({
      reference: `vault:kv/data/${mount}/users/${user}/${type}`,
      version: secret.data.metadata.version,
      data: secret.data.data,
    }),
  );
}

async function writeCredential(db: pg.Pool, res: http.ServerResponse, user: string, type: string, text: string) {
  let data: unknown;
  try {
    data = (JSON.parse(text) as { data?: unknown } | null)?.data;
  } catch {
    return answer(res, 400, '{"error":"the body is not JSON"}');
  }
  if (typeof data !== 'object' || data === null) return answer(res, 400, '{"error":"data must be an object"}');
  const path = `${API_PREFIX}/${user}/${type}`;
  const reference = `vault:kv/data/${mount}/users/${user}/${type}`;
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    const q = (v: string) => client.escapeLiteral(v);
    await client.query(
      `BEGIN; SELECT r.version FROM ${credentialLocksFromItem(q(credentialLockKey(user, type)))}
       LEFT JOIN credential_references r ON r.user_id = ${q(user)} AND r.credential_type = ${q(type)}`,
    );
    const { status, json } = await vaultCall('POST', path, JSON.stringify({ data }));
    if (status !== 200) {
      await client.query('ROLLBACK');
      return answer(res, 502, JSON.stringify({ vault_status: status }));
    }
    const version = (json as { data: { version: number } }).data.version;
    await client.query({
      name: 'floor_upsert',
      text: `INSERT INTO credential_references (user_id, credential_type, reference, version) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, credential_type)
             DO UPDATE SET reference = EXCLUDED.reference, version = EXCLUDED.version, updated_at = now()`,
      values: [user, type, reference, version],
    });
    await client.query('COMMIT');
    answer(res, 201, JSON.stringify({ reference, version }));
  } catch (err) {
    // A connection that cannot even roll back goes, not back into the pool.
    await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
    throw err;
  } finally {
    client.release(broken);
  }
}

http
  .createServer((req, res) => {
    const fail = (err: Error) => answer(res, 502, JSON.stringify({ error: err.message }));
    const url = req.url ?? '';
    const read = req.method === 'POST' ? RESOLVE.exec(url) : null;
    if (read) {
      req.resume();
      return void resolveCredential(res, read[1]!, read[2]!).catch(fail);
    }
    const write = req.method === 'PUT' && pool ? WRITE.exec(url) : null;
    if (!write || !pool) {
      req.resume();
      return answer(res, 404, '{"error":"not_found"}');
    }
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => void writeCredential(pool, res, write[1]!, write[2]!, text).catch(fail));
  })
  .listen(port, '127.0.0.1', () => process.stdout.write(`floor-proxy listening on 127.0.0.1:${port}\n`));
