/**
 * The HTTP transport under node-vault's JSON calls: one `http.request` on the client's keep-alive agent per call.
 *
 * node-vault sends every call through a "request-promise"-shaped function, by default a wrapper around axios
 * that, per request, spreads option objects, runs axios' config merging, interceptor chain, header
 * normalisation and follow-redirects, and adapts the answer back to request-promise's shape. Profiles of the app
 * under cache-miss resolves put that work at about a sixth of the app's CPU for one keep-alive call to Vault.
 * node-vault's `request-promise` option (its documented way to bring your own transport) takes a function
 * that answers `{statusCode, body, request: {path}}`; node-vault keeps everything else: the URL and token
 * header, and turning a non-2xx answer into its ApiResponseError (`err.response.statusCode` and `.body`),
 * which vault/error-map.ts maps as before. A call Vault never answered (refused, reset, timed out) rejects with
 * the Node error, which maps to unreachable as the axios error did.
 *
 * Like the axios default it replaces: the JSON body is sent with `Content-Type: application/json`; the answer
 * is parsed as JSON when it parses and returned as text otherwise (Vault's Prometheus metrics, an empty 204);
 * 307/308 redirects (a standby without request forwarding) are followed, at most 5, with the same method and body.
 */
import http from 'node:http';
import https from 'node:https';

/** The options node-vault hands its transport (what it sets in `client.request`; the rest is ignored). */
interface RequestOptions {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  json?: unknown;
  /** Per-call timeout in ms (request-promise's option name), for calls that wait on Vault's own work. */
  timeout?: number;
}

/** The answer node-vault expects back. */
interface RequestAnswer {
  statusCode: number;
  body: unknown;
  request: { path: string };
}

type Transport = (options: RequestOptions) => Promise<RequestAnswer>;

const MAX_REDIRECTS = 5;

function parseBody(text: string): unknown {
  if (text === '') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function send(
  url: URL,
  method: string,
  headers: http.OutgoingHttpHeaders,
  body: string | undefined,
  agent: http.Agent,
  timeoutMs: number,
): Promise<{ status: number; location?: string; text: string }> {
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    // One deadline for the whole exchange, the TCP connect included. `req.setTimeout` would start only once the
    // socket is connected, so an address that drops SYNs (a pod IP gone, a firewall DROP) would hold the call for
    // the kernel's SYN retries, about a minute, whatever timeoutMs says.
    const deadline = setTimeout(() => {
      const err = new Error(`no answer from Vault within ${timeoutMs} ms`) as NodeJS.ErrnoException;
      err.code = 'ETIMEDOUT';
      req.destroy(err);
    }, timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(deadline);
      reject(err);
    };
    const req = transport.request(
      {
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method,
        headers,
        agent: url.protocol === (agent instanceof https.Agent ? 'https:' : 'http:') ? agent : undefined,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          clearTimeout(deadline);
          resolve({ status: res.statusCode ?? 0, location: res.headers.location, text });
        });
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

/**
 * A transport for node-vault's `request-promise` option, sending every call over `agent` with `timeoutMs` per
 * attempt, or the call's own `timeout` (node-vault passes a call's `requestOptions` through). node-vault calls
 * `.defaults(...)` on it once and then the returned function per request.
 */
export function jsonTransport(agent: http.Agent, timeoutMs: number): { defaults(): Transport } {
  const request: Transport = async (options) => {
    const body = options.json !== undefined && typeof options.json === 'object' ? JSON.stringify(options.json) : '';
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json, text/plain, */*', ...options.headers };
    if (body !== '') {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    let url = new URL(options.uri);
    for (let hop = 0; ; hop++) {
      const answer = await send(
        url,
        options.method,
        headers,
        body === '' ? undefined : body,
        agent,
        options.timeout ?? timeoutMs,
      );
      if ((answer.status === 307 || answer.status === 308) && answer.location && hop < MAX_REDIRECTS) {
        // The token goes along, as axios did: a standby redirects to the active node, which needs it.
        url = new URL(answer.location, url);
        continue;
      }
      return { statusCode: answer.status, body: parseBody(answer.text), request: { path: url.pathname } };
    }
  };
  return { defaults: () => request };
}
