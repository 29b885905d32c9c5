/**
 * vault-init's configuration: read once from the environment, validated, frozen. A bad variable stops the
 * process (exit 2) with its name, what was wrong and an example of a good value.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EnvReader, SEGMENT_PATTERN, isSafeSegment } from '@aurora/common';

export interface VaultInitConfig {
  vaultAddr: string;
  /**
   * VAULT_HA_ADDRS: the API addresses of every node of a Raft cluster (comma-separated). Empty = one Vault at
   * VAULT_ADDR (the default). Set: vault-init initializes the first node, joins and unseals the others,
   * configures through the active node and keeps every node unsealed (cluster.ts).
   */
  haAddrs: string[];
  initDir: string;
  secretShares: number;
  secretThreshold: number;
  kvMount: string;
  kvBasePath: string;
  appPolicy: string;
  approleDir: string;
  operatorTokenDir: string;
  auditFile: string;
  watchIntervalMs: number;
  waitTimeoutMs: number;
  printRootToken: boolean;
  /**
   * VAULT_REVOKE_ROOT_TOKEN: revoke init.json's root token once configuration is done; later runs configure
   * with a short-lived root token made from the unseal keys (generate-root) and revoke that too.
   */
  revokeRootToken: boolean;
  uiUrl: string;
  /** How the banner tells users to run the CLI. */
  cliCommand: string;
  healthPort: number;
  policyDir: string;
  agentObjectsFile: string;
  /** `--once`: steps 1-7, then exit 0. */
  once: boolean;
  /** VAULT_INIT_STORE: where the init material lives, `file` (VAULT_INIT_DIR) or `kubernetes-secret`. */
  initStore: 'file' | 'kubernetes-secret';
  /** VAULT_INIT_SECRET: the Secret's name with VAULT_INIT_STORE=kubernetes-secret. */
  initSecretName: string;
  /**
   * VAULT_CLIENT_AUTH: how the app and the agent log in to Vault. `approle` writes role_id/secret_id files
   * (compose, native); `kubernetes` enables Vault's Kubernetes auth method with one role each, bound to
   * VAULT_K8S_SERVICE_ACCOUNT and told apart by their tokens' audiences (configure/kubernetes-auth.ts).
   */
  clientAuth: 'approle' | 'kubernetes';
  /** VAULT_K8S_NAMESPACE: the namespace of the Secret and of the bound ServiceAccount (default: the pod's own). */
  kubernetesNamespace: string;
  /** VAULT_K8S_HOST: the Kubernetes API as Vault (not vault-init) reaches it, for TokenReview. */
  kubernetesHost: string;
  /**
   * VAULT_K8S_CA_CERT_FILE: the Kubernetes API's CA (PEM) for Vault's TokenReviews, when Vault does not run in a
   * pod of that cluster. Unset: Vault uses its own pod's CA and service-account token.
   */
  kubernetesCaCertFile?: string;
  /** VAULT_K8S_SERVICE_ACCOUNT: the ServiceAccount the app pods (app and agent containers) run as. */
  kubernetesServiceAccount: string;
  /** VAULT_K8S_APP_AUDIENCE / VAULT_K8S_AGENT_AUDIENCE: the audience each container's projected token carries. */
  kubernetesAppAudience: string;
  kubernetesAgentAudience: string;
}

/** A Kubernetes object name (DNS-1123 subdomain, as Secrets and ServiceAccounts use). */
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const AUDIENCE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
/** Where Kubernetes mounts a pod's namespace; outside a pod, "default". */
const POD_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function podNamespace(): string {
  try {
    return fs.readFileSync(POD_NAMESPACE_FILE, 'utf8').trim() || 'default';
  } catch {
    return 'default';
  }
}

const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Mount points Vault reserves or vault-init manages otherwise. */
const RESERVED_MOUNTS = new Set(['sys', 'auth', 'cubbyhole', 'identity', 'secret']);
const RESERVED_POLICIES = new Set(['root', 'default', 'aurora-agent', 'aurora-operator']);

/** Vault's own rules for a Shamir seal (vault/seal.go, SealConfig.Validate). */
export function shamirProblem(shares: number, threshold: number): string | undefined {
  if (shares < 1) return 'secret shares must be at least one';
  if (threshold < 1) return 'secret threshold must be at least one';
  if (shares > 255) return 'secret shares must be at most 255';
  if (threshold > 255) return 'secret threshold must be at most 255';
  if (threshold > shares) return 'secret threshold cannot be larger than secret shares';
  if (shares > 1 && threshold === 1) return 'secret threshold must be greater than one for multiple shares';
  return undefined;
}

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  argv: readonly string[] = process.argv.slice(2),
): Readonly<VaultInitConfig> {
  const r = new EnvReader(env);
  const unknownArgs = argv.filter((a) => a !== '--once');
  if (unknownArgs.length)
    r.problem(
      `unknown argument(s) ${unknownArgs.map((a) => JSON.stringify(a)).join(' ')}; the only one is --once (exit after setup)`,
    );

  const secretShares = r.int('VAULT_SECRET_SHARES', 5, { min: 1, max: 255 });
  const secretThreshold = r.int('VAULT_SECRET_THRESHOLD', 3, { min: 1, max: 255 });
  const shamir = shamirProblem(secretShares, secretThreshold);
  if (shamir)
    r.problem(
      `VAULT_SECRET_SHARES=${secretShares} with VAULT_SECRET_THRESHOLD=${secretThreshold}: ${shamir}; example: VAULT_SECRET_SHARES=5 VAULT_SECRET_THRESHOLD=3 (or 1 and 1)`,
    );

  const kvMount = r.string('VAULT_KV_MOUNT', 'aurora', { pattern: SEGMENT_PATTERN, example: 'aurora' });
  if (RESERVED_MOUNTS.has(kvMount.toLowerCase()))
    r.problem(
      `VAULT_KV_MOUNT=${JSON.stringify(kvMount)} is reserved (Vault's own mounts, or the separate "secret" mount); example: VAULT_KV_MOUNT=aurora`,
    );
  const kvBasePath = r.string('VAULT_KV_BASE_PATH', 'users');
  if (!kvBasePath.split('/').every(isSafeSegment))
    r.problem(
      `VAULT_KV_BASE_PATH=${JSON.stringify(kvBasePath)} must be one or more path segments of letters, digits, . _ - @ joined by "/"; example: VAULT_KV_BASE_PATH=users`,
    );
  const appPolicy = r.string('VAULT_APP_POLICY', 'aurora-app', { pattern: POLICY_NAME, example: 'aurora-app' });
  if (RESERVED_POLICIES.has(appPolicy))
    r.problem(
      `VAULT_APP_POLICY=${JSON.stringify(appPolicy)} is taken by Vault or by another aurora policy; example: VAULT_APP_POLICY=aurora-app`,
    );

  const haAddrs = parseHaAddrs(r.optional('VAULT_HA_ADDRS'), r);

  const config: VaultInitConfig = {
    vaultAddr: r.url('VAULT_ADDR', 'http://127.0.0.1:8200'),
    haAddrs,
    initDir: path.resolve(r.string('VAULT_INIT_DIR', '/vault/init')),
    secretShares,
    secretThreshold,
    kvMount,
    kvBasePath,
    appPolicy,
    approleDir: path.resolve(r.string('VAULT_APPROLE_DIR', '/vault/approle')),
    operatorTokenDir: path.resolve(r.string('VAULT_OPERATOR_TOKEN_DIR', '/vault/cli')),
    // A path on the Vault server's file system, not ours: kept as given.
    auditFile: r.string('VAULT_AUDIT_FILE', '/vault/logs/audit.log', {
      pattern: /^\/[^\0\n]*[^/]$/,
      example: '/vault/logs/audit.log',
    }),
    watchIntervalMs: r.int('VAULT_WATCH_INTERVAL_MS', 1000, { min: 100, max: 60_000 }),
    waitTimeoutMs: r.int('VAULT_WAIT_TIMEOUT_MS', 120_000, { min: 1000, max: 3_600_000 }),
    printRootToken: r.bool('VAULT_PRINT_ROOT_TOKEN', true),
    revokeRootToken: r.bool('VAULT_REVOKE_ROOT_TOKEN', false),
    uiUrl: r.url('VAULT_UI_URL', 'http://localhost:8200/ui'),
    cliCommand: r.string('VAULT_BANNER_CLI', 'docker exec -it vault vault'),
    healthPort: r.int('VAULT_INIT_HEALTH_PORT', 8201, { min: 1, max: 65_535 }),
    policyDir: path.resolve(r.string('VAULT_POLICY_DIR', '/vault/policies')),
    agentObjectsFile: path.resolve(r.string('VAULT_AGENT_OBJECTS', '/vault/agent/secrets.json')),
    once: argv.includes('--once'),
    initStore: r.string('VAULT_INIT_STORE', 'file', {
      pattern: /^(file|kubernetes-secret)$/,
      example: 'kubernetes-secret',
    }) as VaultInitConfig['initStore'],
    initSecretName: r.string('VAULT_INIT_SECRET', 'aurora-secrets-vault-init', {
      pattern: K8S_NAME,
      example: 'vault-init',
    }),
    clientAuth: r.string('VAULT_CLIENT_AUTH', 'approle', {
      pattern: /^(approle|kubernetes)$/,
      example: 'kubernetes',
    }) as VaultInitConfig['clientAuth'],
    kubernetesNamespace: r.string('VAULT_K8S_NAMESPACE', podNamespace(), { pattern: K8S_NAME, example: 'aurora' }),
    kubernetesHost: r.url('VAULT_K8S_HOST', 'https://kubernetes.default.svc'),
    ...(r.optional('VAULT_K8S_CA_CERT_FILE')
      ? { kubernetesCaCertFile: path.resolve(r.optional('VAULT_K8S_CA_CERT_FILE')!) }
      : {}),
    kubernetesServiceAccount: r.string('VAULT_K8S_SERVICE_ACCOUNT', 'aurora-app', {
      pattern: K8S_NAME,
      example: 'aurora-app',
    }),
    kubernetesAppAudience: r.string('VAULT_K8S_APP_AUDIENCE', 'aurora-app', {
      pattern: AUDIENCE,
      example: 'aurora-app',
    }),
    kubernetesAgentAudience: r.string('VAULT_K8S_AGENT_AUDIENCE', 'aurora-agent', {
      pattern: AUDIENCE,
      example: 'aurora-agent',
    }),
  };
  if (config.clientAuth === 'kubernetes' && config.kubernetesAppAudience === config.kubernetesAgentAudience)
    r.problem(
      `VAULT_K8S_APP_AUDIENCE and VAULT_K8S_AGENT_AUDIENCE are both ${JSON.stringify(config.kubernetesAppAudience)}: they must differ, or the agent's token would log in as the app; example: VAULT_K8S_APP_AUDIENCE=aurora-app VAULT_K8S_AGENT_AUDIENCE=aurora-agent`,
    );
  return r.done(config);
}

const HA_EXAMPLE = 'VAULT_HA_ADDRS=http://vault-1:8200,http://vault-2:8200,http://vault-3:8200';

/** VAULT_HA_ADDRS: unset or empty = [] (single node); else at least two distinct http(s) URLs. */
export function parseHaAddrs(value: string | undefined, r: EnvReader): string[] {
  if (value === undefined) return [];
  const addrs = value
    .split(',')
    .map((a) => a.trim().replace(/\/+$/, ''))
    .filter((a) => a !== '');
  for (const a of addrs) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(a).protocol);
    } catch {
      ok = false;
    }
    if (!ok)
      r.problem(`VAULT_HA_ADDRS holds ${JSON.stringify(a)}, which is not an http(s) URL; example: ${HA_EXAMPLE}`);
  }
  if (new Set(addrs).size !== addrs.length) r.problem(`VAULT_HA_ADDRS names a node twice; example: ${HA_EXAMPLE}`);
  if (addrs.length === 1)
    r.problem(
      `VAULT_HA_ADDRS names one node only: leave it empty for a single Vault (VAULT_ADDR), or list every node; example: ${HA_EXAMPLE}`,
    );
  return addrs;
}
