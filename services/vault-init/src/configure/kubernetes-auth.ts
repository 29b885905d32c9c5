/**
 * Vault's Kubernetes auth method, for the stack on Kubernetes: the method at `auth/kubernetes`, its config
 * (the API server Vault sends TokenReviews to; Vault, running in a pod, uses its own service-account token and
 * CA for them), and one role per consumer. The app and its Vault Agent run in one pod, under one
 * ServiceAccount; each mounts its own projected token with its own audience, and each role accepts only its
 * audience, so the agent's token cannot get the app's policy and the other way round.
 * Vault docs: https://developer.hashicorp.com/vault/docs/auth/kubernetes (config, role/:name, audience).
 */
import { VaultNotFoundError, type VaultClient } from '@aurora/common';
import { DEFAULT_ROLE_TTLS, type RoleTokenTtls } from './approle.js';
import { ensureAuthMethod } from './auth-method.js';
import type { Change } from './types.js';

export const KUBERNETES_MOUNT = 'kubernetes';

export interface KubernetesRole {
  name: string;
  policy: string;
  serviceAccount: string;
  namespace: string;
  audience: string;
}

/**
 * `caCert`: the API server's CA (PEM) when Vault runs outside that cluster; undefined = Vault's own pod's CA
 * and token (Vault reads them from its service-account mount).
 */
export async function ensureKubernetesAuth(
  client: VaultClient,
  kubernetesHost: string,
  caCert?: string,
): Promise<Change> {
  let change = await ensureAuthMethod(client, KUBERNETES_MOUNT, 'kubernetes');
  let config: { kubernetes_host?: string; kubernetes_ca_cert?: string } | undefined;
  try {
    config = (
      await client.read<{ data: { kubernetes_host?: string; kubernetes_ca_cert?: string } }>(
        `auth/${KUBERNETES_MOUNT}/config`,
      )
    ).data;
  } catch (err) {
    if (!(err instanceof VaultNotFoundError)) throw err;
  }
  const desired = { kubernetes_host: kubernetesHost, ...(caCert ? { kubernetes_ca_cert: caCert } : {}) };
  const same =
    config?.kubernetes_host === kubernetesHost &&
    (caCert === undefined || (config.kubernetes_ca_cert ?? '').trim() === caCert.trim());
  if (!same) {
    await client.write(`auth/${KUBERNETES_MOUNT}/config`, desired);
    if (change === 'unchanged') change = 'updated';
  }
  return change;
}

interface RoleData {
  bound_service_account_names?: string[];
  bound_service_account_namespaces?: string[];
  audience?: string;
  token_policies?: string[];
  token_ttl?: number;
  token_max_ttl?: number;
}

/**
 * Creates or updates the role `role.name`. Its tokens live as the AppRole logins' do (`ttls`, seconds:
 * VAULT_APPROLE_TOKEN_TTL / VAULT_APPROLE_TOKEN_MAX_TTL), whichever method the stack logs in with.
 */
export async function ensureKubernetesRole(
  client: VaultClient,
  role: KubernetesRole,
  ttls: RoleTokenTtls = DEFAULT_ROLE_TTLS,
): Promise<Change> {
  const path = `auth/${KUBERNETES_MOUNT}/role/${role.name}`;
  let actual: RoleData | undefined;
  try {
    actual = (await client.read<{ data: RoleData }>(path)).data;
  } catch (err) {
    if (!(err instanceof VaultNotFoundError)) throw err;
  }
  const desired = {
    bound_service_account_names: [role.serviceAccount],
    bound_service_account_namespaces: [role.namespace],
    audience: role.audience,
    token_policies: [role.policy],
    token_ttl: ttls.tokenTtl,
    token_max_ttl: ttls.tokenMaxTtl,
  };
  const same =
    actual !== undefined &&
    JSON.stringify(actual.bound_service_account_names) === JSON.stringify(desired.bound_service_account_names) &&
    JSON.stringify(actual.bound_service_account_namespaces) ===
      JSON.stringify(desired.bound_service_account_namespaces) &&
    actual.audience === desired.audience &&
    JSON.stringify(actual.token_policies) === JSON.stringify(desired.token_policies) &&
    actual.token_ttl === desired.token_ttl &&
    actual.token_max_ttl === desired.token_max_ttl;
  if (same) return 'unchanged';
  await client.write(path, desired);
  return actual ? 'updated' : 'created';
}
