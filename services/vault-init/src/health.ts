/**
 * vault-init's health, for the compose healthcheck: 200 once Vault is unsealed AND configured. The same port
 * serves GET /metrics (metrics.ts).
 */
import http from 'node:http';
import type { Logger } from '@aurora/common';
import { serveMetrics } from './metrics.js';

export class HealthState {
  unsealed = false;
  configured = false;
  get healthy(): boolean {
    return this.unsealed && this.configured;
  }
  toJSON(): { unsealed: boolean; configured: boolean } {
    return { unsealed: this.unsealed, configured: this.configured };
  }
}

export const HEALTH_HOST = '127.0.0.1';

export async function startHealthServer(
  port: number,
  state: HealthState,
  logger: Logger,
  host = HEALTH_HOST,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/metrics') return void serveMetrics(res);
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/health') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    res
      .writeHead(state.healthy ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      .end(JSON.stringify(state));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.error('health endpoint failed', { err }));
  return server;
}
