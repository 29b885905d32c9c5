/**
 * The metrics token: periodic, policy aurora-metrics only, written to `metrics-token` next to the operator token
 * (compose: the vault-cli volume, so `docker exec vault cat /vault/cli/metrics-token` hands it to Prometheus).
 * It reads Vault's telemetry and the Raft autopilot state, nothing else.
 */
import path from 'node:path';
import { VaultForbiddenError, registerSecret, type VaultClient } from '@aurora/common';
import { FilesystemError, fsReason } from '../errors.js';
import { ensureDir, readIfExists, writeFileAtomic } from '../fs-atomic.js';
import { METRICS_POLICY } from './policies.js';
import type { Change } from './types.js';

/** Renewed by vault-init (metrics.ts, hourly) and on every configure; outlives a stopped stack for this long. */
export const METRICS_TOKEN_PERIOD = '72h';
export const METRICS_TOKEN_FILE = 'metrics-token';

/** The token in `dir`/metrics-token when it still works with policy aurora-metrics (renewed), else a new one. */
export async function ensureMetricsToken(
  client: VaultClient,
  dir: string,
): Promise<{ file: string; token: string; change: Change }> {
  const file = path.join(dir, METRICS_TOKEN_FILE);
  let existing: string | undefined;
  try {
    existing = (await readIfExists(file))?.trim() || undefined;
  } catch (err) {
    throw new FilesystemError(`cannot read ${file}: ${fsReason(err)}`, err);
  }
  if (existing) {
    registerSecret(existing);
    const data = await client
      .withToken(existing)
      .read<{ data: { policies?: string[]; period?: number } }>('auth/token/lookup-self')
      .then(
        (r) => r.data,
        (err: unknown) => {
          if (err instanceof VaultForbiddenError) return undefined;
          throw err;
        },
      );
    if (data && data.policies?.includes(METRICS_POLICY) && (data.period ?? 0) > 0) {
      await client.withToken(existing).write('auth/token/renew-self', {});
      return { file, token: existing, change: 'unchanged' };
    }
  }
  const created = await client.write<{ auth: { client_token: string } }>('auth/token/create', {
    policies: [METRICS_POLICY],
    // Without the default policy (cubbyhole, tools, ...): aurora-metrics grants its own lookup and renewal.
    no_default_policy: true,
    period: METRICS_TOKEN_PERIOD,
    // Orphan: revoking the root token some day must not take Prometheus' token with it.
    no_parent: true,
    display_name: 'aurora-metrics',
    meta: { created_by: 'vault-init' },
  });
  const token = created.auth.client_token;
  registerSecret(token);
  try {
    await ensureDir(dir);
    await writeFileAtomic(file, token, { mode: 0o600 });
  } catch (err) {
    throw new FilesystemError(`cannot write the metrics token to ${file}: ${fsReason(err)}`, err);
  }
  return { file, token, change: existing ? 'updated' : 'created' };
}
