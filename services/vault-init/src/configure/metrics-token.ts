/**
 * The metrics token: periodic, policy aurora-metrics only, written to `metrics-token` next to the operator token
 * (compose: the vault-cli volume, so `docker exec vault cat /vault/cli/metrics-token` hands it to Prometheus).
 * It reads Vault's telemetry and the Raft autopilot state, nothing else.
 */
import path from 'node:path';
import type { VaultClient } from '@aurora/common';
import { ensurePeriodicToken, type PeriodicToken } from './periodic-token.js';
import { METRICS_POLICY } from './policies.js';

/** Renewed by vault-init (metrics.ts, hourly) and on every configure; outlives a stopped stack for this long. */
export const METRICS_TOKEN_PERIOD = '72h';
export const METRICS_TOKEN_FILE = 'metrics-token';

/** The token in `dir`/metrics-token when it still works with policy aurora-metrics (renewed), else a new one. */
export async function ensureMetricsToken(client: VaultClient, dir: string): Promise<PeriodicToken> {
  return ensurePeriodicToken(client, {
    file: path.join(dir, METRICS_TOKEN_FILE),
    policy: METRICS_POLICY,
    // Without the default policy (cubbyhole, tools, ...): aurora-metrics grants its own lookup and renewal.
    noDefaultPolicy: true,
    period: METRICS_TOKEN_PERIOD,
    displayName: 'aurora-metrics',
    what: 'the metrics token',
  });
}
