/**
 * Step 5: every Vault object vault-init owns, brought to its desired state. Idempotent: a rerun reads,
 * finds nothing to do and writes nothing; drift (a policy edited by hand, a revoked secret_id) is repaired.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { VaultClient } from '@aurora/common';
import type { VaultInitConfig } from '../config.js';
import { ensureAutopilotConfig } from '../autopilot.js';
import { ensureAdminSecret } from './admin-secret.js';
import { DB_CONNECTION, ensureDatabaseConnection } from './database-connection.js';
import { DATABASE_MOUNT, ensureDatabaseEngine } from './database-engine.js';
import { desiredDatabaseRoles, ensureDatabaseRole } from './database-roles.js';
import { ensureApproleAuth, ensureRole, ensureRoleCredentials } from './approle.js';
import { ensureFileAudit, unlistedDevicesWarning } from './audit.js';
import { ensureKubernetesAuth, ensureKubernetesRole } from './kubernetes-auth.js';
import { ensureKvV2 } from './kv.js';
import { ensureOperatorToken } from './operator-token.js';
import { ensureOwnToken } from './own-token.js';
import { ensureMetricsToken } from './metrics-token.js';
import { recordConfigure } from '../metrics.js';
import { AGENT_POLICY, desiredPolicies, ensurePolicy } from './policies.js';
import { VaultObjectConflictError } from '../errors.js';
import type { Change } from './types.js';

export type { Change } from './types.js';

export const APP_ROLE = 'aurora-app';
export const AGENT_ROLE = 'aurora-agent';
/** The `secret` KV mount, as in Vault's dev mode: the walkthrough's Client secret and the bootstrap admin secret. */
export const SECRET_MOUNT = 'secret';

export interface ConfigureResult {
  /** What changed, per object; all 'unchanged' on a rerun. */
  changes: Record<string, Change>;
  /** What the operator should know about, for the log: Vault state vault-init worked around but cannot clear. */
  warnings: string[];
  operatorToken: string;
}

/** `client` must hold the root token. */
export async function configureVault(client: VaultClient, config: Readonly<VaultInitConfig>): Promise<ConfigureResult> {
  const changes: Record<string, Change> = {};
  const warnings: string[] = [];
  // Policies are read from disk first: a broken template stops us before anything is written.
  const policies = await desiredPolicies(config);

  // First, so that everything after it is audited.
  const audit = await ensureFileAudit(client, config.auditFile, config.audit.keepFiles);
  changes['audit:file'] = audit.change;
  const auditWarning = unlistedDevicesWarning(audit.unlistedPaths, audit.device.path);
  if (auditWarning) warnings.push(auditWarning);
  changes[`kv:${config.kvMount}`] = await ensureKvV2(client, config.kvMount);
  changes[`kv:${SECRET_MOUNT}`] = await ensureKvV2(client, SECRET_MOUNT);
  for (const [name, text] of policies) changes[`policy:${name}`] = await ensurePolicy(client, name, text);

  if (config.clientAuth === 'kubernetes') {
    // On Kubernetes the pods' own service-account tokens are the credentials: no AppRole files anywhere.
    const caCert = config.kubernetesCaCertFile
      ? await readFile(config.kubernetesCaCertFile, 'utf8').catch((err: unknown) => {
          throw new VaultObjectConflictError(
            `cannot read VAULT_K8S_CA_CERT_FILE=${config.kubernetesCaCertFile}: ${(err as Error).message}; point it at the Kubernetes API's CA (PEM), or unset it when Vault runs in that cluster`,
          );
        })
      : undefined;
    changes['auth:kubernetes'] = await ensureKubernetesAuth(client, config.kubernetesHost, caCert);
    for (const [role, policy, audience] of [
      [APP_ROLE, config.appPolicy, config.kubernetesAppAudience],
      [AGENT_ROLE, AGENT_POLICY, config.kubernetesAgentAudience],
    ] as const) {
      changes[`kubernetes-role:${role}`] = await ensureKubernetesRole(
        client,
        {
          name: role,
          policy,
          audience,
          serviceAccount: config.kubernetesServiceAccount,
          namespace: config.kubernetesNamespace,
        },
        config.approleTtls,
      );
    }
  } else {
    changes['auth:approle'] = await ensureApproleAuth(client);
    for (const [role, policy, sub] of [
      [APP_ROLE, config.appPolicy, 'app'],
      [AGENT_ROLE, AGENT_POLICY, 'agent'],
    ] as const) {
      changes[`role:${role}`] = await ensureRole(client, role, policy, config.approleTtls);
      const files = await ensureRoleCredentials(client, role, path.join(config.approleDir, sub));
      changes[`role_id:${role}`] = files.roleId;
      changes[`secret_id:${role}`] = files.secretId;
    }
  }

  if (config.database) {
    // Roles after the connection: Vault checks a role's db_name against the connection's allowed_roles.
    const roles = desiredDatabaseRoles(DB_CONNECTION, config.database);
    changes[`secrets:${DATABASE_MOUNT}`] = await ensureDatabaseEngine(client, DATABASE_MOUNT);
    changes[`database-connection:${DB_CONNECTION}`] = await ensureDatabaseConnection(
      client,
      DATABASE_MOUNT,
      config.database,
      [...roles.keys()],
    );
    for (const [name, role] of roles)
      changes[`database-role:${name}`] = await ensureDatabaseRole(client, DATABASE_MOUNT, name, role);
  }

  const operator = await ensureOperatorToken(client, config.operatorTokenDir);
  changes['token:operator'] = operator.change;
  changes['token:vault-init'] = (await ensureOwnToken(client, config.initDir, config.ownTokenPeriodSeconds)).change;
  changes['secret:aurora/admin'] = await ensureAdminSecret(client);
  changes['raft:autopilot'] = await ensureAutopilotConfig(client, config.raftServerStabilizationTime);
  changes['token:metrics'] = (await ensureMetricsToken(client, config.operatorTokenDir)).change;
  recordConfigure(changes);
  return { changes, warnings, operatorToken: operator.token };
}
