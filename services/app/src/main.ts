/**
 * The app's entry point: config → logger → PostgreSQL (migrations) → Vault login → HTTP.
 * Exit codes: 0 clean shutdown, 1 failed to start (the log says why), 2 invalid configuration.
 */
import 'dotenv/config';
import { ConfigError, createLogger } from '@aurora/common';
import { loadConfig } from './config.js';
import { createPool, migrate, type Db } from './store/db.js';
import { leaseDatabase, migrateAsLeasedUser, type LeasedDatabase } from './store/vault-credentials.js';
import { VaultSession } from './vault/session.js';
import { buildApp } from './http/app.js';
import { startMetricsServer } from './http/metrics.js';
import { createApiServer } from './http/server.js';
import { setMetricSources } from './telemetry/metrics.js';
import { tokenLifetime } from './telemetry/lifetimes.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`app: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger('app', { level: config.logLevel });
  const vault = new VaultSession({ ...config.vault, logger });
  const pg = config.postgres;
  let pool: Db & { end(): Promise<void>; totalCount: number; idleCount: number; waitingCount: number };
  let leased: LeasedDatabase | undefined;
  if (pg.vault) {
    // The database users come from Vault: no PostgreSQL without a Vault login first.
    const vaultPg = { ...pg, vault: pg.vault };
    await retry(
      'PostgreSQL migrations (as a user leased from Vault)',
      () => migrateAsLeasedUser(vaultPg, vault, logger),
      logger,
    );
    leased = await retry('leasing the PostgreSQL user from Vault', () => leaseDatabase(vaultPg, vault, logger), logger);
    pool = leased.pool;
  } else {
    const own = createPool(pg);
    pool = own;
    await retry('PostgreSQL migrations', () => migrate(own, logger), logger);
    // Not fatal: Vault may be sealed for a moment; requests answer 503 until the login succeeds.
    await vault
      .login()
      .catch((err: unknown) => logger.warn('Vault login failed at start; will retry on first use', { err }));
  }

  let built;
  try {
    built = await buildApp({ config, logger, pool, vault });
  } catch (err) {
    // An invalid SECRETS_CONFIG is a configuration error like a bad variable: same exit code.
    if (err instanceof ConfigError) {
      process.stderr.write(`app: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  setMetricSources({ pool, lifetimes: () => tokenLifetime(vault) });
  // METRICS_PORT=0: no metrics listener.
  const metricsServer = config.metrics?.port ? await startMetricsServer(config.metrics, logger) : undefined;
  const server = createApiServer(built.app);
  server.listen(config.port, config.host, () => logger.info('app listening', { port: config.port }));

  const shutdown = (signal: string) => {
    logger.info('shutting down', { signal });
    server.close();
    server.closeIdleConnections();
    metricsServer?.close();
    // A leased user is revoked (Vault drops it) once the pool has drained.
    void Promise.allSettled([built.close(), leased ? leased.close() : pool.end()]).then(() => {
      vault.close();
      process.exit(0);
    });
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/** Runs `fn` until it succeeds, up to `attempts` times one second apart, logging each failure; its value. */
async function retry<T>(
  what: string,
  fn: () => Promise<T>,
  logger: ReturnType<typeof createLogger>,
  attempts = 30,
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      logger.warn(`${what} failed; retrying in 1 s (${i}/${attempts})`, { err });
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`app: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
