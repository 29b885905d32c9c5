/**
 * A raw HTTP request for the bad-input tests: the path goes on the wire exactly as written (fetch would
 * normalize `..` and `%2e`), the body as given, and the answer comes back with its JSON parsed when it is JSON.
 */
import http from 'node:http';

export interface RawRequest {
  method: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
}
export interface RawAnswer {
  status: number;
  text: string;
  headers: http.IncomingHttpHeaders;
  json?: { error?: unknown; message?: unknown };
}

export function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

/** One request on a fresh connection; `authorization` is sent when given. */
export function rawRequest(base: string, c: RawRequest, authorization?: string): Promise<RawAnswer> {
  const url = new URL(base);
  const headers: Record<string, string | number> = {
    ...(authorization !== undefined ? { authorization } : {}),
    ...(c.body !== undefined
      ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(c.body) }
      : {}),
    ...c.headers,
  };
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: c.method, path: c.path, headers, timeout: 10_000, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: RawAnswer['json'];
          try {
            json = JSON.parse(text) as RawAnswer['json'];
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, headers: res.headers, json });
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    if (c.body !== undefined) req.write(c.body);
    req.end();
  });
}
