/**
 * PostgreSQL with users leased from Vault's database secrets engine: migrations run once at start as the
 * migrations role's user (its objects belong to the fixed owner role, see vault-init's database roles), then
 * the app's own user is leased and kept by the one lifetime watcher (renewed while renewing extends it,
 * replaced before the max TTL), its pool moved to each new user without failing a request.
 */
import type pg from 'pg';
import { DatabaseCredentialsLifetime, LifetimeWatcher, type DatabaseCredentials, type Logger } from '@aurora/common';
import type { AppConfig } from '../config.js';
import type { VaultSession } from '../vault/session.js';
import { migrate, poolFor } from './db.js';
import { RotatingPool } from './rotating-pool.js';

type VaultPostgres = AppConfig['postgres'] & { vault: NonNullable<AppConfig['postgres']['vault']> };

export interface LeasedDatabase {
  pool: RotatingPool;
  /** Stops renewing, drains the pool and revokes the lease: Vault drops the user. */
  close(): Promise<void>;
}

/** One short-lived user, used for `fn` and revoked afterwards (migrations, doctor). */
export async function withLeasedUser<T>(
  config: VaultPostgres,
  vault: VaultSession,
  role: string,
  fn: (pool: pg.Pool) => Promise<T>,
): Promise<T> {
  // One login for the session's life: a login per call would leave a Vault token behind on every retry.
  await vault.start();
  const creds = await vault.run((c) => c.database(config.vault.mount).credentials(role));
  const pool = poolFor(config, creds);
  try {
    return await fn(pool);
  } finally {
    await pool.end().catch(() => undefined);
    await vault.run((c) => c.revokeLease(creds.leaseId)).catch(() => undefined);
  }
}

/** Runs the migrations as the migrations role's user. */
export async function migrateAsLeasedUser(config: VaultPostgres, vault: VaultSession, logger: Logger): Promise<void> {
  await withLeasedUser(config, vault, config.vault.migrationsRole, (pool) => migrate(pool, logger));
}

/**
 * Leases the app's user and starts keeping it; rejects when the first lease fails (the caller retries).
 * While the lease has ended and no new one could be had, queries answer 503 naming the cause.
 */
export async function leaseDatabase(
  config: VaultPostgres,
  vault: VaultSession,
  logger: Logger,
): Promise<LeasedDatabase> {
  const revoke = (creds: DatabaseCredentials) =>
    vault
      .run((c) => c.revokeLease(creds.leaseId))
      .catch((err: unknown) => {
        // The user stays until its lease ends (VALID UNTIL and Vault's own expiry): a warning, not a failure.
        logger.warn('could not revoke a replaced PostgreSQL lease; Vault drops the user when it ends', { err });
      });
  // The pool asks the watcher's state, and the watcher is built around the pool: one is set after the other.
  const ref: { watcher?: LifetimeWatcher } = {};
  const pool = new RotatingPool(
    config,
    // Asked before every query: the cheap question first, the whole state only to say why.
    () => {
      if (!ref.watcher?.expired()) return undefined;
      const state = ref.watcher.state();
      return `the lease ended at ${state.expiresAt} and Vault could not issue a new one (${state.lastError ?? state.problem ?? 'no answer'})`;
    },
    revoke,
  );
  const source = new DatabaseCredentialsLifetime(
    () => vault.client,
    config.vault.mount,
    config.vault.role,
    async (next, previous) => {
      await pool.use(next, previous);
      logger.info('PostgreSQL pool moved to a new leased user', {
        user: next.username,
        lease_seconds: next.leaseDuration,
      });
    },
  );
  const started = new LifetimeWatcher(source, { logger, maxRetryMs: 5000 });
  ref.watcher = started;
  await started.start();
  return {
    pool,
    close: async () => {
      started.stop();
      await pool.end();
      const leaseId = source.leaseId;
      if (leaseId)
        await vault
          .run((c) => c.revokeLease(leaseId))
          .catch((err: unknown) => logger.warn('lease not revoked', { err }));
    },
  };
}
