/**
 * vault-init's configuration: read once from the environment, validated, frozen. A bad variable stops the
 * process (exit 2) with its name, what was wrong and an example of a good value.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EnvReader, KV_SETTINGS, STACK_SETTING, readSettings, setting } from '@aurora/common';

export interface VaultInitConfig {
  vaultAddr: string;
  /**
   * VAULT_HA_ADDRS: the API addresses of every node of a Raft cluster (comma-separated). Empty = one Vault at
   * VAULT_ADDR (the default). Set: vault-init initializes the first node, joins and unseals the others,
   * configures through the active node and keeps every node unsealed (cluster.ts).
   */
  haAddrs: string[];
  /**
   * VAULT_RAFT_SERVER_STABILIZATION_TIME: on Raft storage, how long autopilot watches a joined node before it
   * makes it a voter (a Vault duration; empty = Vault's default, 10s). The local HA profile shortens it.
   */
  raftServerStabilizationTime: string;
  initDir: string;
  secretShares: number;
  secretThreshold: number;
  kvMount: string;
  kvBasePath: string;
  appPolicy: string;
  approleDir: string;
  /** VAULT_APPROLE_TOKEN_TTL / VAULT_APPROLE_TOKEN_MAX_TTL: lifetimes of the tokens the app and agent get. */
  approleTtls: { tokenTtl: number; tokenMaxTtl: number };
  operatorTokenDir: string;
  auditFile: string;
  /**
   * Audit log rotation (configure/audit.ts, audit-rotation.ts): a switch to the next of `keepFiles` files when
   * the current one reaches `rotateBytes` or `rotateAgeSeconds` (0 = no age limit), checked every `checkMs`.
   */
  audit: { keepFiles: number; rotateBytes: number; rotateAgeSeconds: number; checkMs: number };
  /** VAULT_INIT_TOKEN_PERIOD: period (seconds) of vault-init's own token, renewed by the lifetime watcher. */
  ownTokenPeriodSeconds: number;
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
  /** VAULT_INIT_HEALTH_HOST: where health and /metrics listen; loopback unless compose publishes them. */
  healthHost: string;
  policyDir: string;
  agentObjectsFile: string;
  /**
   * The database secrets engine (configure/database-*.ts), set up when VAULT_DB_SUPERUSER_PASSWORD_FILE names
   * PostgreSQL's bootstrap superuser password; undefined otherwise. TTLs in seconds.
   */
  database?: DatabaseEngineConfig;
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
const RESERVED_POLICIES = new Set(['root', 'default', 'aurora-agent', 'aurora-operator', 'aurora-metrics']);

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

/** Every variable vault-init reads: the loader below, .env.example and the compose files all follow this. */
export const VAULT_INIT_SETTINGS = {
  secretShares: setting.int('VAULT_SECRET_SHARES', 5, { min: 1, max: 255 }, 'key shares of a new Vault'),
  secretThreshold: setting.int('VAULT_SECRET_THRESHOLD', 3, { min: 1, max: 255 }, 'shares needed to unseal'),
  ...KV_SETTINGS,
  // Read (and so validated at start) for the commands vault-init's messages name (stackCommands).
  stack: STACK_SETTING,
  appPolicy: setting.string('VAULT_APP_POLICY', 'aurora-app', "the app's least-privilege policy", {
    pattern: POLICY_NAME,
    example: 'aurora-app',
  }),
  haAddrs: setting.optional('VAULT_HA_ADDRS', "a Raft cluster: every node's API address, comma-separated"),
  raftServerStabilizationTime: setting.string(
    'VAULT_RAFT_SERVER_STABILIZATION_TIME',
    '',
    "Raft autopilot's wait before a new node votes (empty: Vault's 10s)",
    { pattern: /^(?:|(?:\d+(?:h|m|s|ms))+)$/, example: '2s' },
  ),
  vaultAddr: setting.url('VAULT_ADDR', 'http://127.0.0.1:8200', "Vault's address (compose: http://vault:8200)"),
  initDir: setting.string('VAULT_INIT_DIR', '/vault/init', 'where init.json (unseal keys + root token) lives'),
  approleDir: setting.string('VAULT_APPROLE_DIR', '/vault/approle', "where each consumer's AppRole files go"),
  operatorTokenDir: setting.string('VAULT_OPERATOR_TOKEN_DIR', '/vault/cli', "where the CLI's operator token goes"),
  // A path on the Vault server's file system, not ours: kept as given. `stdout` is the file device's own keyword
  // (Vault docs, "File audit device": file_path) for a runtime that keeps and rotates a container's output.
  auditFile: setting.string(
    'VAULT_AUDIT_FILE',
    '/vault/logs/audit.log',
    "the audit log, as the Vault server sees it; stdout: Vault's standard output, kept and rotated by the container " +
      'runtime (Kubernetes), with no ring of files',
    { pattern: /^(?:stdout|\/[^\0\n]*[^/])$/, example: '/vault/logs/audit.log' },
  ),
  approleTokenTtl: setting.string(
    'VAULT_APPROLE_TOKEN_TTL',
    '1h',
    "lifetime of the app's and agent's AppRole tokens (renewable up to the max TTL)",
  ),
  approleTokenMaxTtl: setting.string(
    'VAULT_APPROLE_TOKEN_MAX_TTL',
    '24h',
    'the most an AppRole token lives; then the consumer logs in again',
  ),
  auditKeepFiles: setting.int('VAULT_AUDIT_KEEP_FILES', 5, { min: 2, max: 1000 }, 'audit log files in the ring'),
  auditRotateSize: setting.string('VAULT_AUDIT_ROTATE_SIZE', '64m', 'rotate the audit log at this size (k, m, g)'),
  auditRotateAge: setting.string('VAULT_AUDIT_ROTATE_AGE', '24h', 'rotate the audit log after this long (0: never)'),
  auditCheckIntervalMs: setting.int(
    'VAULT_AUDIT_CHECK_INTERVAL_MS',
    10_000,
    { min: 100, max: 3_600_000 },
    'how often the audit log is checked for rotation, ms',
  ),
  ownTokenPeriod: setting.string('VAULT_INIT_TOKEN_PERIOD', '1h', "period of vault-init's own renewable token"),
  watchIntervalMs: setting.int(
    'VAULT_WATCH_INTERVAL_MS',
    1000,
    { min: 100, max: 60_000 },
    'how often the seal status is checked, ms',
  ),
  waitTimeoutMs: setting.int(
    'VAULT_WAIT_TIMEOUT_MS',
    120_000,
    { min: 1000, max: 3_600_000 },
    "how long to wait for Vault's API, ms",
  ),
  printRootToken: setting.bool('VAULT_PRINT_ROOT_TOKEN', true, 'print the root token in the banner'),
  revokeRootToken: setting.bool('VAULT_REVOKE_ROOT_TOKEN', false, "revoke init.json's root token after setup"),
  uiUrl: setting.url('VAULT_UI_URL', 'http://localhost:8200/ui', 'the Vault UI address the banner shows'),
  cliCommand: setting.string('VAULT_BANNER_CLI', 'docker exec -it vault vault', 'the CLI invocation the banner shows'),
  initStore: setting.string('VAULT_INIT_STORE', 'file', 'where init.json lives: file or kubernetes-secret', {
    pattern: /^(file|kubernetes-secret)$/,
    example: 'kubernetes-secret',
  }),
  initSecretName: setting.string(
    'VAULT_INIT_SECRET',
    'aurora-secrets-vault-init',
    'the Secret holding the init material (kubernetes-secret store)',
    { pattern: K8S_NAME, example: 'vault-init' },
  ),
  clientAuth: setting.string('VAULT_CLIENT_AUTH', 'approle', 'how the app and agent log in: approle or kubernetes', {
    pattern: /^(approle|kubernetes)$/,
    example: 'kubernetes',
  }),
  kubernetesNamespace: setting.optional(
    'VAULT_K8S_NAMESPACE',
    "the init Secret's and ServiceAccount's namespace (default: the pod's own)",
  ),
  kubernetesHost: setting.url(
    'VAULT_K8S_HOST',
    'https://kubernetes.default.svc',
    'the Kubernetes API as Vault reaches it (TokenReview)',
  ),
  kubernetesCaCertFile: setting.optional('VAULT_K8S_CA_CERT_FILE', "the Kubernetes API's CA (PEM) for Vault"),
  kubernetesServiceAccount: setting.string(
    'VAULT_K8S_SERVICE_ACCOUNT',
    'aurora-app',
    'the ServiceAccount the app pods run as',
    { pattern: K8S_NAME, example: 'aurora-app' },
  ),
  kubernetesAppAudience: setting.string(
    'VAULT_K8S_APP_AUDIENCE',
    'aurora-app',
    "the audience of the app container's projected token",
    { pattern: AUDIENCE, example: 'aurora-app' },
  ),
  kubernetesAgentAudience: setting.string(
    'VAULT_K8S_AGENT_AUDIENCE',
    'aurora-agent',
    "the audience of the agent container's projected token",
    { pattern: AUDIENCE, example: 'aurora-agent' },
  ),
  healthHost: setting.string(
    'VAULT_INIT_HEALTH_HOST',
    '127.0.0.1',
    'where health and /metrics listen (compose: 0.0.0.0, published on loopback)',
  ),
  healthPort: setting.int('VAULT_INIT_HEALTH_PORT', 8201, { min: 1, max: 65_535 }, "vault-init's health endpoint"),
  policyDir: setting.string('VAULT_POLICY_DIR', '/vault/policies', 'the policy templates vault-init applies'),
  agentObjectsFile: setting.string('VAULT_AGENT_OBJECTS', '/vault/agent/secrets.json', 'the files the agent renders'),
  dbSuperuserPasswordFile: setting.optional(
    'VAULT_DB_SUPERUSER_PASSWORD_FILE',
    "PostgreSQL's bootstrap superuser password file; set: Vault's database secrets engine issues DB users",
  ),
  dbHost: setting.string('VAULT_DB_HOST', '127.0.0.1', 'PostgreSQL as the Vault server reaches it (compose: postgres)'),
  dbPort: setting.int('VAULT_DB_PORT', 5432, { min: 1, max: 65_535 }, "PostgreSQL's port as Vault reaches it"),
  dbName: setting.string('VAULT_DB_NAME', 'aurora', "the app's database", {
    pattern: /^[a-z_][a-z0-9_]{0,62}$/,
    example: 'aurora',
  }),
  dbSuperuser: setting.string(
    'VAULT_DB_SUPERUSER',
    'postgres',
    'the superuser Vault connects as (its password rotated)',
    {
      pattern: /^[a-z_][a-z0-9_]{0,62}$/,
      example: 'postgres',
    },
  ),
  dbDefaultTtl: setting.string('VAULT_DB_DEFAULT_TTL', '1h', 'lifetime of a database credential lease (renewable)'),
  dbMaxTtl: setting.string('VAULT_DB_MAX_TTL', '24h', 'the most a database credential lives; then a new user'),
};

/** Where Vault reaches PostgreSQL, who it connects as, and the leases of the credentials it issues. */
export interface DatabaseEngineConfig {
  /** PostgreSQL as the Vault server reaches it (compose: the `postgres` service). */
  host: string;
  port: number;
  database: string;
  superuser: string;
  /** Read once, when the connection is created: after rotate-root its value no longer works. */
  superuserPasswordFile: string;
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
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
  const s = readSettings(VAULT_INIT_SETTINGS, r);

  const shamir = shamirProblem(s.secretShares, s.secretThreshold);
  if (shamir)
    r.problem(
      `VAULT_SECRET_SHARES=${s.secretShares} with VAULT_SECRET_THRESHOLD=${s.secretThreshold}: ${shamir}; example: VAULT_SECRET_SHARES=5 VAULT_SECRET_THRESHOLD=3 (or 1 and 1)`,
    );
  if (RESERVED_MOUNTS.has(s.kvMount.toLowerCase()))
    r.problem(
      `VAULT_KV_MOUNT=${JSON.stringify(s.kvMount)} is reserved (Vault's own mounts, or the separate "secret" mount); example: VAULT_KV_MOUNT=aurora`,
    );
  if (RESERVED_POLICIES.has(s.appPolicy))
    r.problem(
      `VAULT_APP_POLICY=${JSON.stringify(s.appPolicy)} is taken by Vault or by another aurora policy; example: VAULT_APP_POLICY=aurora-app`,
    );

  const duration = (st: { name: string; defaultText: string }, text: string) =>
    durationSeconds(r, st.name, text, st.defaultText);
  const S = VAULT_INIT_SETTINGS;
  const tokenTtl = duration(S.approleTokenTtl, s.approleTokenTtl);
  const tokenMaxTtl = duration(S.approleTokenMaxTtl, s.approleTokenMaxTtl);
  if (tokenMaxTtl < tokenTtl)
    r.problem(
      `VAULT_APPROLE_TOKEN_MAX_TTL (${tokenMaxTtl} s) is shorter than VAULT_APPROLE_TOKEN_TTL (${tokenTtl} s): Vault would cap every token at the max; example: VAULT_APPROLE_TOKEN_TTL=1h VAULT_APPROLE_TOKEN_MAX_TTL=24h`,
    );

  const dbDefaultTtl = duration(S.dbDefaultTtl, s.dbDefaultTtl);
  const dbMaxTtl = duration(S.dbMaxTtl, s.dbMaxTtl);
  if (dbMaxTtl < dbDefaultTtl)
    r.problem(
      `VAULT_DB_MAX_TTL (${dbMaxTtl} s) is shorter than VAULT_DB_DEFAULT_TTL (${dbDefaultTtl} s): Vault would cap every lease at the max; example: VAULT_DB_DEFAULT_TTL=1h VAULT_DB_MAX_TTL=24h`,
    );

  const kubernetesNamespace = s.kubernetesNamespace ?? podNamespace();
  if (!K8S_NAME.test(kubernetesNamespace))
    r.problem(
      `VAULT_K8S_NAMESPACE=${JSON.stringify(kubernetesNamespace)} is not a Kubernetes namespace name; example: VAULT_K8S_NAMESPACE=aurora`,
    );
  if (s.clientAuth === 'kubernetes' && s.kubernetesAppAudience === s.kubernetesAgentAudience)
    r.problem(
      `VAULT_K8S_APP_AUDIENCE and VAULT_K8S_AGENT_AUDIENCE are both ${JSON.stringify(s.kubernetesAppAudience)}: they must differ, or the agent's token would log in as the app; example: VAULT_K8S_APP_AUDIENCE=aurora-app VAULT_K8S_AGENT_AUDIENCE=aurora-agent`,
    );

  return r.done<VaultInitConfig>({
    ...s,
    initStore: s.initStore as VaultInitConfig['initStore'],
    clientAuth: s.clientAuth as VaultInitConfig['clientAuth'],
    kubernetesNamespace,
    ...(s.kubernetesCaCertFile ? { kubernetesCaCertFile: path.resolve(s.kubernetesCaCertFile) } : {}),
    approleTtls: { tokenTtl, tokenMaxTtl },
    audit: {
      keepFiles: s.auditKeepFiles,
      rotateBytes: byteSize(r, S.auditRotateSize.name, s.auditRotateSize, S.auditRotateSize.defaultText),
      rotateAgeSeconds: s.auditRotateAge === '0' ? 0 : duration(S.auditRotateAge, s.auditRotateAge),
      checkMs: s.auditCheckIntervalMs,
    },
    ownTokenPeriodSeconds: duration(S.ownTokenPeriod, s.ownTokenPeriod),
    haAddrs: parseHaAddrs(s.haAddrs, r),
    initDir: path.resolve(s.initDir),
    approleDir: path.resolve(s.approleDir),
    operatorTokenDir: path.resolve(s.operatorTokenDir),
    policyDir: path.resolve(s.policyDir),
    agentObjectsFile: path.resolve(s.agentObjectsFile),
    ...(s.dbSuperuserPasswordFile
      ? {
          database: {
            host: s.dbHost,
            port: s.dbPort,
            database: s.dbName,
            superuser: s.dbSuperuser,
            superuserPasswordFile: path.resolve(s.dbSuperuserPasswordFile),
            defaultTtlSeconds: dbDefaultTtl,
            maxTtlSeconds: dbMaxTtl,
          },
        }
      : {}),
    once: argv.includes('--once'),
  });
}

const DURATION = /^(\d{1,7})(s|m|h)?$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600 } as const;

/**
 * A duration as Vault writes short ones ("5s", "90m", "24h") or plain seconds ("3600"), in seconds: from 1 s
 * to 8760 h (a year).
 */
export function durationSeconds(r: EnvReader, name: string, text: string, fallback: string): number {
  const m = DURATION.exec(text);
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[(m[2] ?? 's') as keyof typeof UNIT_SECONDS] : NaN;
  if (!(seconds >= 1 && seconds <= 8760 * 3600)) {
    r.problem(
      `${name}=${JSON.stringify(text)} must be a duration from 1s to 8760h (a number with s, m or h, or plain seconds); example: ${name}=${fallback}`,
    );
    const f = DURATION.exec(fallback)!;
    return Number(f[1]) * UNIT_SECONDS[(f[2] ?? 's') as keyof typeof UNIT_SECONDS];
  }
  return seconds;
}

const SIZE = /^(\d{1,12})(k|m|g)?$/i;
const UNIT_BYTES = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;

/** A size in bytes, plain or with k, m or g (powers of 1024): from 4k to 1024g. */
export function byteSize(r: EnvReader, name: string, text: string, fallback: string): number {
  const parse = (text: string) => {
    const m = SIZE.exec(text);
    return m ? Number(m[1]) * UNIT_BYTES[(m[2] ?? '').toLowerCase() as keyof typeof UNIT_BYTES] : NaN;
  };
  const bytes = parse(text);
  if (!(bytes >= 4096 && bytes <= 1024 ** 4)) {
    r.problem(
      `${name}=${JSON.stringify(text)} must be a size from 4k to 1024g (bytes, or with k, m, g); example: ${name}=${fallback}`,
    );
    return parse(fallback);
  }
  return bytes;
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
