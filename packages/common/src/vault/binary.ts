/**
 * Binary bodies to and from Vault (Raft snapshots). node-vault sends and parses JSON only and buffers whole
 * bodies in axios, so these transfers go over node:http(s) with the client's own keep-alive agent, here inside
 * the client, with the same error mapping as every other call.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import { firstVaultMessage, vaultError } from './error-map.js';

/** What a transfer needs of the client: where Vault is, the token, the keep-alive agent. */
export interface BinaryEndpoint {
  readonly addr: string;
  readonly token: string;
  readonly agent: http.Agent;
}

/** Redirects followed at most: a standby answers a snapshot upload with 307 to the active node. */
const MAX_REDIRECTS = 3;

function send(
  endpoint: BinaryEndpoint,
  url: URL,
  method: string,
  body: string | undefined,
  timeoutMs: number,
): Promise<http.IncomingMessage> {
  const sameOrigin = url.origin === new URL(endpoint.addr).origin;
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { 'x-vault-token': endpoint.token };
    if (body !== undefined) headers['content-length'] = fs.statSync(body).size;
    // `timeout` as an option (not req.setTimeout, which starts once connected) bounds the connect too: an address
    // that drops SYNs must not hold a transfer for the kernel's SYN retries. It is an idle timeout, as a snapshot
    // stream needs.
    const req = transport.request(
      url,
      { method, headers, agent: sameOrigin ? endpoint.agent : undefined, timeout: timeoutMs },
      resolve,
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body === undefined) req.end();
    else pipeline(fs.createReadStream(body), req).catch(reject);
  });
}

async function errorBody(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return firstVaultMessage(JSON.parse(text)) || text.slice(0, 300);
  } catch {
    return text.slice(0, 300);
  }
}

/**
 * One binary call to `path` (relative to /v1/): the request body streamed from the file `bodyFile` (if any), a
 * 2xx answer streamed into `destFile` (mode 0600; if any) or drained. Follows redirects with the body sent again.
 * Throws our Vault error types (vaultError).
 */
export async function transferBinary(
  endpoint: BinaryEndpoint,
  method: 'GET' | 'POST',
  path: string,
  files: { bodyFile?: string; destFile?: string },
  timeoutMs: number,
): Promise<void> {
  let url = new URL(`${endpoint.addr}/v1/${path}`);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let res: http.IncomingMessage;
    try {
      res = await send(endpoint, url, method, files.bodyFile, timeoutMs);
    } catch (err) {
      throw vaultError(url.origin, path, undefined, '', err);
    }
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if ([301, 302, 307, 308].includes(status) && location) {
      res.resume();
      url = new URL(location, url);
      continue;
    }
    if (status < 200 || status >= 300) {
      const message = await errorBody(res);
      throw vaultError(url.origin, path, status, message, new Error(`HTTP ${status}`));
    }
    if (files.destFile) await pipeline(res, fs.createWriteStream(files.destFile, { mode: 0o600 }));
    else res.resume();
    return;
  }
  throw vaultError(url.origin, path, 508, `more than ${MAX_REDIRECTS} redirects (last: ${url.origin})`, undefined);
}
