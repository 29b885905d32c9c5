/**
 * vault-init's health, for the compose healthcheck and the harness: 200 once Vault is unsealed AND configured
 * AND serves an authenticated request (authenticated-probe.ts: a Vault that refuses service is not healthy) AND,
 * on Raft storage, autopilot reports the cluster healthy with every configured node a voter (so that it survives
 * the loss of any one node of three); 503 otherwise, with what it waits for. The same port serves GET /metrics
 * (metrics.ts).
 */
import http from 'node:http';
import type { Logger } from '@aurora/common';
import type { RaftReadiness } from './autopilot.js';
import { probeResult } from './authenticated-probe.js';
import { serveMetrics } from './metrics.js';
import { unsavedKeys } from './initialize.js';

export class HealthState {
  unsealed = false;
  configured = false;
  /** Raft storage: autopilot's verdict (autopilot.ts); null on other storage; undefined until the first check. */
  raft: RaftReadiness | null | undefined = undefined;
  get healthy(): boolean {
    return this.unsealed && this.configured && (this.raft === null || this.raft?.ready === true) && probeResult().ok;
  }
  /** What health waits for, in words; undefined when healthy. */
  get waitingFor(): string | undefined {
    const unsaved = unsavedKeys();
    if (unsaved)
      return `the new unseal keys to be saved (attempt ${unsaved.attempt}: ${unsaved.reason}); stopping vault-init now loses them`;
    if (!this.unsealed) return 'Vault to be unsealed (every node that answers)';
    if (!this.configured) return 'configuration (mounts, policies, AppRole, operator token)';
    if (this.raft === undefined) return 'the first check of the storage';
    if (this.raft?.ready === false) return `Raft: ${this.raft.waitingFor}`;
    const probe = probeResult();
    return probe.ok ? undefined : `Vault to serve authenticated requests: ${probe.detail}`;
  }
  /** `vault_requests` appears only when Vault refuses authenticated requests, naming the likely cause. */
  toJSON(): {
    unsealed: boolean;
    configured: boolean;
    raft?: RaftReadiness;
    vault_requests?: string;
    waitingFor?: string;
    keysNotSaved?: { attempt: number; reason: string };
  } {
    const waitingFor = this.waitingFor;
    const probe = probeResult();
    const unsaved = unsavedKeys();
    return {
      unsealed: this.unsealed,
      configured: this.configured,
      ...(this.raft ? { raft: this.raft } : {}),
      ...(probe.ok ? {} : { vault_requests: probe.detail }),
      ...(waitingFor ? { waitingFor } : {}),
      // For tools that must not stop vault-init now (make native-down): the held keys would be lost.
      ...(unsaved ? { keysNotSaved: unsaved } : {}),
    };
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
