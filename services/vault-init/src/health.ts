/**
 * vault-init's health, for the compose healthcheck: 200 once Vault is unsealed AND configured AND serves an
 * authenticated request (authenticated-probe.ts: a Vault that refuses service is not healthy).
 */
import http from 'node:http';
import type { Logger } from '@aurora/common';
import { probeResult } from './authenticated-probe.js';

export class HealthState {
  unsealed = false;
  configured = false;
  get healthy(): boolean {
    return this.unsealed && this.configured && probeResult().ok;
  }
  /** `vault_requests` appears only when Vault refuses authenticated requests, naming the likely cause. */
  toJSON(): { unsealed: boolean; configured: boolean; vault_requests?: string } {
    const probe = probeResult();
    return {
      unsealed: this.unsealed,
      configured: this.configured,
      ...(probe.ok ? {} : { vault_requests: probe.detail }),
    };
  }
}

export const HEALTH_HOST = '127.0.0.1';

export async function startHealthServer(port: number, state: HealthState, logger: Logger): Promise<http.Server> {
  const server = http.createServer((req, res) => {
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
    server.listen(port, HEALTH_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.error('health endpoint failed', { err }));
  return server;
}
