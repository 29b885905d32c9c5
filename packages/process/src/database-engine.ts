/**
 * How a local stack (make native, the tests' stacks, the bench) wires Vault's database secrets engine to its
 * PostgreSQL, the way compose does: vault-init hands Vault the bootstrap superuser password once (Vault rotates it
 * at once), and the app holds no password but leases its users from two of Vault's roles.
 */

/**
 * Vault's roles for the app's queries and for its migrations at start. vault-init creates them
 * (services/vault-init/src/configure/database-roles.ts, DB_APP_ROLE and DB_MAINTENANCE_ROLE; a unit test keeps
 * the two in step).
 */
export const LEASED_APP_ROLE = 'aurora-app';
export const LEASED_MIGRATIONS_ROLE = 'aurora-maintenance';

/** A PostgreSQL as Vault and the app reach it. */
export interface DatabaseEndpoint {
  host: string;
  port: number;
  database: string;
}

/**
 * vault-init's settings (VAULT_DB_*) that make it configure the engine on `pg`: `passwordFile` holds the
 * bootstrap superuser password, `superuser` is who Vault connects as (vault-init's default: postgres).
 */
export function databaseEngineInitEnv(
  pg: DatabaseEndpoint & { passwordFile: string; superuser?: string },
): Record<string, string> {
  return {
    VAULT_DB_SUPERUSER_PASSWORD_FILE: pg.passwordFile,
    VAULT_DB_HOST: pg.host,
    VAULT_DB_PORT: String(pg.port),
    VAULT_DB_NAME: pg.database,
    ...(pg.superuser ? { VAULT_DB_SUPERUSER: pg.superuser } : {}),
  };
}

/** The app's settings for `pg` with users leased from Vault: where the database is, and the two roles; no password. */
export function leasedAppEnv(pg: DatabaseEndpoint): Record<string, string> {
  return {
    PGHOST: pg.host,
    PGPORT: String(pg.port),
    PGDATABASE: pg.database,
    PG_VAULT_ROLE: LEASED_APP_ROLE,
    PG_VAULT_MIGRATIONS_ROLE: LEASED_MIGRATIONS_ROLE,
  };
}
