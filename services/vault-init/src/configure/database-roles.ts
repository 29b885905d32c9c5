/**
 * The database secrets engine's roles: what a user Vault creates may do. Grants never go to the dynamic users
 * themselves but to two fixed group roles, so that dropping a user (its lease ended) breaks nothing and a dump
 * restores without any of them:
 *
 * - `aurora_owner` (NOLOGIN) owns the database, the public schema and every table in it. Migrations run as a
 *   member of it with `role` set to it, so what they create belongs to it, never to a short-lived user.
 * - `aurora_app` (NOLOGIN) may read and write rows in the public schema, and nothing else: no DDL.
 *
 * The creation statements run with the connection's superuser, inside Vault's transaction; they make sure the
 * group roles and their grants exist (a fresh or just-restored database has none), serialised by an advisory
 * lock so that two first requests cannot race on CREATE ROLE. A statement holding `$$` is run whole by the
 * PostgreSQL plugin; others are split on semicolons.
 */
import type { DatabaseRole, VaultClient } from '@aurora/common';
import type { Change } from './types.js';

/**
 * Vault's role for the app's queries (doctor leases a user of it too), and the one for migrations at start,
 * backups, restores and a psql session by hand (it acts as the owner role).
 */
export const DB_APP_ROLE = 'aurora-app';
export const DB_MAINTENANCE_ROLE = 'aurora-maintenance';
/** The PostgreSQL group roles that own the schema and hold the app's grants. */
export const PG_OWNER_ROLE = 'aurora_owner';
export const PG_APP_ROLE = 'aurora_app';

const GROUP_ROLES = `DO $$
DECLARE t record;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('aurora group roles'));
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${PG_OWNER_ROLE}') THEN
    CREATE ROLE ${PG_OWNER_ROLE} NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${PG_APP_ROLE}') THEN
    CREATE ROLE ${PG_APP_ROLE} NOLOGIN;
  END IF;
  EXECUTE format('ALTER DATABASE %I OWNER TO ${PG_OWNER_ROLE}', current_database());
  ALTER SCHEMA public OWNER TO ${PG_OWNER_ROLE};
  REVOKE CREATE ON SCHEMA public FROM PUBLIC;
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND pg_get_userbyid(c.relowner) <> '${PG_OWNER_ROLE}'
  LOOP
    EXECUTE format('ALTER TABLE public.%I OWNER TO ${PG_OWNER_ROLE}', t.relname);
  END LOOP;
  GRANT USAGE ON SCHEMA public TO ${PG_APP_ROLE};
  GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${PG_APP_ROLE};
  GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${PG_APP_ROLE};
  ALTER DEFAULT PRIVILEGES FOR ROLE ${PG_OWNER_ROLE} IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${PG_APP_ROLE};
  ALTER DEFAULT PRIVILEGES FOR ROLE ${PG_OWNER_ROLE} IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO ${PG_APP_ROLE};
END $$;`;

/** Whatever a user still owns goes to the owner role first, so DROP ROLE never fails on a leftover object. */
const REVOCATION = [
  `REASSIGN OWNED BY "{{name}}" TO ${PG_OWNER_ROLE}; DROP OWNED BY "{{name}}"; DROP ROLE IF EXISTS "{{name}}";`,
];

/** The roles as Vault should hold them, by name; `connection` is the database connection they use. */
export function desiredDatabaseRoles(
  connection: string,
  ttl: { defaultTtlSeconds: number; maxTtlSeconds: number },
): Map<string, DatabaseRole> {
  const role = (creation: string): DatabaseRole => ({
    db_name: connection,
    creation_statements: [GROUP_ROLES, creation],
    revocation_statements: REVOCATION,
    default_ttl: ttl.defaultTtlSeconds,
    max_ttl: ttl.maxTtlSeconds,
  });
  const login = `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`;
  return new Map([
    [DB_APP_ROLE, role(`${login} IN ROLE ${PG_APP_ROLE};`)],
    // CREATEDB and owner membership: a restore drops and recreates the database. `role` makes every session of
    // the user act as the owner role, so that nothing it creates is owned by the user itself.
    [
      DB_MAINTENANCE_ROLE,
      role(`${login} CREATEDB IN ROLE ${PG_OWNER_ROLE}; ALTER ROLE "{{name}}" SET role TO '${PG_OWNER_ROLE}';`),
    ],
  ]);
}

const ROLE_FIELDS = ['db_name', 'creation_statements', 'revocation_statements', 'default_ttl', 'max_ttl'] as const;

export async function ensureDatabaseRole(
  client: VaultClient,
  mount: string,
  name: string,
  desired: DatabaseRole,
): Promise<Change> {
  const db = client.database(mount);
  const actual = await db.readRole(name);
  if (actual && ROLE_FIELDS.every((f) => JSON.stringify(actual[f]) === JSON.stringify(desired[f]))) return 'unchanged';
  await db.writeRole(name, desired);
  return actual ? 'updated' : 'created';
}
