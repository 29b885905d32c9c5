/**
 * The app's configuration: env parsed once at start, validated, frozen. Names follow the user's docs
 * (VAULT_ADDR, VAULT_TOKEN, VAULT_KV_MOUNT, VAULT_KV_BASE_PATH) and libpq's (PGHOST, ...).
 */
import { EnvReader, assertPath, assertSegment } from '@aurora/common';

export interface AppConfig {
  port: number;
  host: string;
  vault: {
    addr: string;
    /** Optional override; otherwise AppRole login with the files vault-init wrote. */
    token?: string;
    approleDir: string;
    /**
     * VAULT_K8S_ROLE + VAULT_K8S_TOKEN_FILE: log in with Vault's Kubernetes auth method, as this role, with the
     * projected service-account token in that file (re-read at every login: the kubelet rotates it).
     */
    kubernetes?: { role: string; tokenFile: string };
    kvMount: string;
    kvBasePath: string;
    timeoutMs: number;
  };
  cache: { ttlSeconds: number; maxEntries: number };
  secretsConfigPath: string;
  postgres: {
    host: string;
    port: number;
    user: string;
    password: string;
    database: string;
    poolSize: number;
    connectTimeoutMs: number;
    statementTimeoutMs: number;
  };
  auth: { maxFailures: number; windowSeconds: number };
  /** Clients and file secrets (issue 6); optional so that hand-built test configs need not spell it out. */
  clients?: {
    /** SECRETS_CONFIG was set explicitly: then a missing file is an error, not "no file secrets". */
    secretsConfigRequired: boolean;
    /** The bootstrap admin Client the app ensures at start, and the file secret it authenticates with. */
    adminClientId: string;
    adminSecretName: string;
    /** A cached file secret older than this is checked with stat before use (the watcher's safety net). */
    fileRevalidateMs: number;
  };
  bodyLimit: string;
  logLevel: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<AppConfig> {
  const r = new EnvReader(env);
  const kvMount = r.string('VAULT_KV_MOUNT', 'aurora');
  const kvBasePath = r.string('VAULT_KV_BASE_PATH', 'users');
  try {
    assertSegment('VAULT_KV_MOUNT', kvMount);
  } catch (e) {
    r.problem(`${(e as Error).message}; example: VAULT_KV_MOUNT=aurora`);
  }
  try {
    assertPath('VAULT_KV_BASE_PATH', kvBasePath);
  } catch (e) {
    r.problem(`${(e as Error).message}; example: VAULT_KV_BASE_PATH=users`);
  }
  const token = r.optional('VAULT_TOKEN');
  const k8sRole = r.optional('VAULT_K8S_ROLE');
  const adminClientId = r.string('ADMIN_CLIENT_ID', 'admin', { pattern: /^[A-Za-z0-9\-.]{1,64}$/, example: 'admin' });
  const adminSecretName = r.string('ADMIN_SECRET_NAME', 'admin-secret', {
    pattern: /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/,
    example: 'admin-secret',
  });
  return r.done<AppConfig>({
    port: r.int('PORT', 8080, { min: 0, max: 65535 }),
    host: r.string('HOST', '0.0.0.0'),
    vault: {
      addr: r.url('VAULT_ADDR', 'http://127.0.0.1:8200'),
      ...(token ? { token } : {}),
      approleDir: r.string('VAULT_APPROLE_DIR', '/vault/approle/app'),
      ...(k8sRole
        ? {
            kubernetes: {
              role: k8sRole,
              tokenFile: r.string('VAULT_K8S_TOKEN_FILE', '/var/run/secrets/aurora/vault-token/token'),
            },
          }
        : {}),
      kvMount,
      kvBasePath,
      timeoutMs: r.int('VAULT_TIMEOUT_MS', 3000, { min: 100, max: 60_000 }),
    },
    cache: {
      ttlSeconds: r.int('CACHE_TTL_SECONDS', 30, { min: 0, max: 60 }),
      maxEntries: r.int('CACHE_MAX_ENTRIES', 10_000, { min: 1, max: 1_000_000 }),
    },
    secretsConfigPath: r.string('SECRETS_CONFIG', '/etc/aurora/vault-config.json'),
    postgres: {
      host: r.string('PGHOST', '127.0.0.1'),
      port: r.int('PGPORT', 5432, { min: 1, max: 65535 }),
      user: r.string('PGUSER', 'aurora'),
      password: r.optional('PGPASSWORD') ?? '',
      database: r.string('PGDATABASE', 'aurora'),
      poolSize: r.int('PG_POOL_SIZE', 10, { min: 1, max: 200 }),
      connectTimeoutMs: r.int('PG_CONNECT_TIMEOUT_MS', 2000, { min: 100, max: 60_000 }),
      statementTimeoutMs: r.int('PG_STATEMENT_TIMEOUT_MS', 5000, { min: 100, max: 600_000 }),
    },
    auth: {
      maxFailures: r.int('AUTH_MAX_FAILURES', 10, { min: 1, max: 10_000 }),
      windowSeconds: r.int('AUTH_FAILURE_WINDOW_SECONDS', 60, { min: 1, max: 86_400 }),
    },
    clients: {
      secretsConfigRequired: r.optional('SECRETS_CONFIG') !== undefined,
      adminClientId,
      adminSecretName,
      fileRevalidateMs: r.int('FILE_SECRET_REVALIDATE_MS', 500, { min: 50, max: 60_000 }),
    },
    bodyLimit: r.string('BODY_LIMIT', '64kb', { pattern: /^\d+(?:b|kb|mb)$/, example: '64kb' }),
    logLevel: r.string('LOG_LEVEL', 'info', {
      pattern: /^(error|warn|info|http|verbose|debug|silly)$/,
      example: 'info',
    }),
  });
}
