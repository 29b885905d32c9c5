/**
 * The app's metrics over HTTP: `countRequests`, the middleware that records every request's route, status
 * and duration, and `startMetricsServer`, a listener of its own (METRICS_HOST:METRICS_PORT, loopback by
 * default) serving `GET /metrics` in Prometheus' text format. A listener apart from the API's keeps metrics
 * off whatever address the API is published on, and a scrape never competes with API requests for a route.
 */
import http from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from '@aurora/common';
import { httpDuration, httpRequests, registry } from '../telemetry/metrics.js';

/** Records the request when the response is sent: one listener, two increments, no per-request allocation. */
export const countRequests: RequestHandler = (req, res, next) => {
  const started = process.hrtime.bigint();
  res.once('finish', () => {
    // The route pattern (/users/:userId/credentials/:type), never the URL: user ids stay out of the labels.
    const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
    httpDuration.observe({ method: req.method, route }, seconds);
  });
  next();
};

/** Answers a scrape: GET /metrics → the registry's text; anything else 404, other methods 405. */
export async function serveMetrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if ((req.url ?? '').split('?')[0] !== '/metrics') {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found","message":"try /metrics"}');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res
      .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' })
      .end('{"error":"method_not_allowed"}');
    return;
  }
  try {
    const text = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text);
  } catch (err) {
    res
      .writeHead(500, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: 'metrics_failed', message: (err as Error).message }));
  }
}

/**
 * Starts the metrics listener; resolves once it listens. Rejects (EADDRINUSE, EACCES) with a message that
 * names METRICS_PORT, so a clash stops the app at start instead of leaving it without metrics.
 */
export async function startMetricsServer(
  options: { host: string; port: number },
  logger: Logger,
): Promise<http.Server> {
  const server = http.createServer((req, res) => void serveMetrics(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: Error) =>
      reject(
        new Error(
          `cannot serve metrics on ${options.host}:${options.port}: ${err.message}; set METRICS_PORT to a free port (0 = no metrics listener)`,
        ),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  server.on('error', (err) => logger.error('metrics endpoint failed', { err }));
  logger.info('metrics listening', { host: options.host, port: options.port, path: '/metrics' });
  return server;
}
