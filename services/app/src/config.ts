/**
 * The app's configuration: env parsed once at start, validated, frozen. Names follow Vault's CLI (VAULT_ADDR,
 * VAULT_TOKEN), the stack's (VAULT_KV_MOUNT, VAULT_KV_BASE_PATH) and libpq's (PGHOST, ...).
 */
import net from 'node:net';
import { EnvReader, KV_SETTINGS, STACK_SETTING, readSettings, setting } from '@aurora/common';

export interface AppConfig {
  port: number;
  host: string;
  vault: {
    addr: string;
    /** Optional override; otherwise AppRole login with the files vault-init wrote. */
    token?: string;
    approleDir: string;
    /** VAULT_K8S_ROLE set: Kubernetes auth with the pod's projected token instead of AppRole files. */
    kubernetes?: { role: string; tokenFile: string };
    kvMount: string;
    kvBasePath: string;
    timeoutMs: number;
  };
  cache: { ttlSeconds: number; maxEntries: number; referenceTtlSeconds: number };
  secretsConfigPath: string;
  postgres: {
    host: string;
    port: number;
    user: string;
    /** PGPASSWORD; unset when PGPASSWORD_FILE names the password instead. */
    password?: string;
    /** PGPASSWORD_FILE: read at each new connection, so a rewritten file takes effect without a restart. */
    passwordFile?: string;
    /**
     * PG_VAULT_ROLE set: the app connects as users Vault's database secrets engine leases
     * (`<mount>/creds/<role>`), not as PGUSER; migrations at start use `migrationsRole`'s.
     */
    vault?: { mount: string; role: string; migrationsRole: string };
    database: string;
    poolSize: number;
    connectTimeoutMs: number;
    statementTimeoutMs: number;
  };
  auth: {
    /** Distinct wrong secrets per client id (and per address) within the window before new ones wait. */
    maxFailures: number;
    windowSeconds: number;
    /** Also limit by the caller's address (only where addresses are real, not behind docker-proxy). */
    limitByAddress: boolean;
    /** Proxies whose X-Forwarded-For names the caller (express `trust proxy` values); empty = none. */
    trustedProxies: string[];
    /** At most one re-read of a Vault-held Client secret per reference in this many seconds. */
    vaultRereadSeconds: number;
    /** How long an authenticated Client resource is reused without reading PostgreSQL, s (0: not cached). */
    clientCacheTtlSeconds: number;
  };
  /** Clients and file secrets; optional so that hand-built test configs need not spell it out. */
  clients?: {
    /** SECRETS_CONFIG was set explicitly: then a missing file is an error, not "no file secrets". */
    secretsConfigRequired: boolean;
    /** The bootstrap admin Client the app ensures at start, and the file secret it authenticates with. */
    adminClientId: string;
    adminSecretName: string;
    /** A cached file secret older than this is checked with stat before use (the watcher's safety net). */
    fileRevalidateMs: number;
  };
  /** The metrics listener (http/metrics.ts); optional so that hand-built test configs need not spell it out. */
  metrics?: { host: string; port: number };
  bodyLimit: string;
  logLevel: string;
}

/** Every variable the app reads: the loader below, .env.example and the compose files all follow this. */
export const APP_SETTINGS = {
  ...KV_SETTINGS,
  // Read where messages are built (stack-commands.ts); declared here so that a wrong value stops the app at start.
  stack: STACK_SETTING,
  adminClientId: setting.string('ADMIN_CLIENT_ID', 'admin', 'the bootstrap admin Client the app creates at start', {
    // A FHIR id that survives a URL: not "." or ".." (see fhir/resource-id.ts).
    pattern: /^(?!\.\.?$)[A-Za-z0-9\-.]{1,64}$/,
    example: 'admin',
  }),
  adminSecretName: setting.string(
    'ADMIN_SECRET_NAME',
    'admin-secret',
    'the SECRETS_CONFIG file secret the admin Client authenticates with',
    { pattern: /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/, example: 'admin-secret' },
  ),
  vaultToken: setting.optional('VAULT_TOKEN', 'a Vault token instead of the AppRole login (tests, debugging)'),
  port: setting.int('PORT', 8080, { min: 0, max: 65535 }, 'the HTTP port'),
  host: setting.string('HOST', '0.0.0.0', 'the address the HTTP server binds'),
  vaultAddr: setting.url('VAULT_ADDR', 'http://127.0.0.1:8200', "Vault's address (compose: http://vault:8200)"),
  approleDir: setting.string(
    'VAULT_APPROLE_DIR',
    '/vault/approle/app',
    'where the app reads its AppRole role_id/secret_id',
  ),
  k8sRole: setting.optional('VAULT_K8S_ROLE', 'Kubernetes auth role to log in with instead of AppRole'),
  k8sTokenFile: setting.string(
    'VAULT_K8S_TOKEN_FILE',
    '/var/run/secrets/aurora/vault-token/token',
    'the projected service-account token Kubernetes auth presents',
  ),
  vaultTimeoutMs: setting.int('VAULT_TIMEOUT_MS', 3000, { min: 100, max: 60_000 }, 'per-request timeout to Vault, ms'),
  cacheTtlSeconds: setting.int('CACHE_TTL_SECONDS', 30, { min: 0, max: 60 }, 'resolver cache TTL, s (0: no cache)'),
  referenceCacheTtlSeconds: setting.int(
    'REFERENCE_CACHE_TTL_SECONDS',
    30,
    { min: 0, max: 300 },
    'cache TTL of the vault: reference rows read from PostgreSQL, s (0: no cache); independent of CACHE_TTL_SECONDS',
  ),
  cacheMaxEntries: setting.int('CACHE_MAX_ENTRIES', 10_000, { min: 1, max: 1_000_000 }, 'resolver cache entries'),
  secretsConfig: setting.string('SECRETS_CONFIG', '/etc/aurora/vault-config.json', 'file-mounted named secrets'),
  pgHost: setting.string('PGHOST', '127.0.0.1', "PostgreSQL's host"),
  pgPort: setting.int('PGPORT', 5432, { min: 1, max: 65535 }, "PostgreSQL's port"),
  pgUser: setting.string('PGUSER', 'aurora', 'PostgreSQL user'),
  pgPassword: setting.optional(
    'PGPASSWORD',
    'PostgreSQL password (prefer PGPASSWORD_FILE: no value in the environment)',
  ),
  pgPasswordFile: setting.optional('PGPASSWORD_FILE', "a file holding PGUSER's password (one line)"),
  pgVaultRole: setting.optional(
    'PG_VAULT_ROLE',
    'connect as users leased from Vault (database/creds/<role>, e.g. aurora-app) instead of PGUSER',
  ),
  pgVaultMigrationsRole: setting.optional(
    'PG_VAULT_MIGRATIONS_ROLE',
    'the Vault role whose user runs migrations at start (e.g. aurora-maintenance; empty: PG_VAULT_ROLE)',
  ),
  pgVaultMount: setting.vaultPath('VAULT_DB_MOUNT', 'database', 'one', "the database secrets engine's mount"),
  pgDatabase: setting.string('PGDATABASE', 'aurora', 'PostgreSQL database'),
  pgPoolSize: setting.int('PG_POOL_SIZE', 10, { min: 1, max: 200 }, 'PostgreSQL connections in the pool'),
  pgConnectTimeoutMs: setting.int(
    'PG_CONNECT_TIMEOUT_MS',
    2000,
    { min: 100, max: 60_000 },
    'PostgreSQL connect timeout, ms',
  ),
  pgStatementTimeoutMs: setting.int(
    'PG_STATEMENT_TIMEOUT_MS',
    5000,
    { min: 100, max: 600_000 },
    'PostgreSQL statement timeout, ms',
  ),
  authMaxFailures: setting.int(
    'AUTH_MAX_FAILURES',
    10,
    { min: 1, max: 10_000 },
    'distinct wrong secrets per Client within the window before new guesses wait',
  ),
  authWindowSeconds: setting.int(
    'AUTH_FAILURE_WINDOW_SECONDS',
    60,
    { min: 1, max: 86_400 },
    'the window of AUTH_MAX_FAILURES, s',
  ),
  authLimitByAddress: setting.bool(
    'AUTH_LIMIT_BY_ADDRESS',
    false,
    "also limit guesses by the caller's address (only where addresses are real)",
  ),
  authTrustedProxies: setting.optional(
    'AUTH_TRUSTED_PROXIES',
    'proxies whose X-Forwarded-For names the caller: IPs, CIDRs, loopback/linklocal/uniquelocal',
  ),
  clientCacheTtlSeconds: setting.int(
    'CLIENT_CACHE_TTL_SECONDS',
    5,
    { min: 0, max: 60 },
    'how long an authenticated Client resource is reused without reading PostgreSQL, s (0: no cache); ' +
      "writes through this app forget it at once, another replica's change shows within this time",
  ),
  authVaultRereadSeconds: setting.int(
    'AUTH_VAULT_REREAD_SECONDS',
    2,
    { min: 1, max: 300 },
    'at most one re-read of a Vault-held Client secret per reference per this many s',
  ),
  fileRevalidateMs: setting.int(
    'FILE_SECRET_REVALIDATE_MS',
    500,
    { min: 50, max: 60_000 },
    'a cached file secret older than this is re-checked with stat, ms',
  ),
  // Loopback by default: compose sets 0.0.0.0 inside the container and publishes the port on 127.0.0.1 only.
  metricsHost: setting.string('METRICS_HOST', '127.0.0.1', 'the address the /metrics listener binds'),
  metricsPort: setting.int('METRICS_PORT', 9464, { min: 0, max: 65535 }, 'the /metrics listener port (0: none)'),
  bodyLimit: setting.string('BODY_LIMIT', '64kb', 'the largest request body', {
    pattern: /^\d+(?:b|kb|mb)$/,
    example: '64kb',
  }),
  logLevel: setting.string('LOG_LEVEL', 'info', 'the log level', {
    pattern: /^(error|warn|info|http|verbose|debug|silly)$/,
    example: 'info',
  }),
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<AppConfig> {
  const r = new EnvReader(env);
  const s = readSettings(APP_SETTINGS, r);
  const trustedProxies = (s.authTrustedProxies ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const p of trustedProxies) {
    const [ip, bits, extra] = p.split('/');
    const version = net.isIP(ip ?? '');
    const named = ['loopback', 'linklocal', 'uniquelocal'].includes(p);
    const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 6 ? 128 : 32));
    if (!named && (version === 0 || !bitsOk || extra !== undefined))
      r.problem(
        `AUTH_TRUSTED_PROXIES: ${JSON.stringify(p)} is not an IP address, a CIDR range or loopback/linklocal/uniquelocal; example: AUTH_TRUSTED_PROXIES=10.0.0.0/8,127.0.0.1`,
      );
  }
  for (const [name, role] of [
    ['PG_VAULT_ROLE', s.pgVaultRole],
    ['PG_VAULT_MIGRATIONS_ROLE', s.pgVaultMigrationsRole],
  ] as const)
    if (role !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(role))
      r.problem(`${name}=${JSON.stringify(role)} is not a Vault role name; example: ${name}=aurora-app`);
  if (s.pgPassword && s.pgPasswordFile)
    r.problem(
      'PGPASSWORD and PGPASSWORD_FILE are both set: set only PGPASSWORD_FILE (the password stays out of the environment)',
    );
  return r.done<AppConfig>({
    port: s.port,
    host: s.host,
    vault: {
      addr: s.vaultAddr,
      ...(s.vaultToken ? { token: s.vaultToken } : {}),
      approleDir: s.approleDir,
      ...(s.k8sRole ? { kubernetes: { role: s.k8sRole, tokenFile: s.k8sTokenFile } } : {}),
      kvMount: s.kvMount,
      kvBasePath: s.kvBasePath,
      timeoutMs: s.vaultTimeoutMs,
    },
    cache: {
      ttlSeconds: s.cacheTtlSeconds,
      maxEntries: s.cacheMaxEntries,
      referenceTtlSeconds: s.referenceCacheTtlSeconds,
    },
    secretsConfigPath: s.secretsConfig,
    postgres: {
      host: s.pgHost,
      port: s.pgPort,
      user: s.pgUser,
      ...(s.pgPasswordFile ? { passwordFile: s.pgPasswordFile } : { password: s.pgPassword ?? '' }),
      ...(s.pgVaultRole
        ? {
            vault: {
              mount: s.pgVaultMount,
              role: s.pgVaultRole,
              migrationsRole: s.pgVaultMigrationsRole ?? s.pgVaultRole,
            },
          }
        : {}),
      database: s.pgDatabase,
      poolSize: s.pgPoolSize,
      connectTimeoutMs: s.pgConnectTimeoutMs,
      statementTimeoutMs: s.pgStatementTimeoutMs,
    },
    auth: {
      maxFailures: s.authMaxFailures,
      windowSeconds: s.authWindowSeconds,
      limitByAddress: s.authLimitByAddress,
      trustedProxies,
      vaultRereadSeconds: s.authVaultRereadSeconds,
      clientCacheTtlSeconds: s.clientCacheTtlSeconds,
    },
    clients: {
      secretsConfigRequired: r.optional('SECRETS_CONFIG') !== undefined,
      adminClientId: s.adminClientId,
      adminSecretName: s.adminSecretName,
      fileRevalidateMs: s.fileRevalidateMs,
    },
    metrics: { host: s.metricsHost, port: s.metricsPort },
    bodyLimit: s.bodyLimit,
    logLevel: s.logLevel,
  });
}
