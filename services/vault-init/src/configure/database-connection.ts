/**
 * The database secrets engine's connection to PostgreSQL (`database/config/<name>`, PostgreSQL plugin).
 *
 * Vault is given the bootstrap superuser password once, when the connection is created, and rotates it at
 * once (`rotate-root`): from then on only Vault knows the live password, and the bootstrap file's value no
 * longer works (PostgreSQL's image keeps reading that file at start, but only to initialize an empty data
 * directory). Later runs compare the connection's settings and rewrite them without a password (Vault keeps
 * the one it has), so a rerun changes nothing and drift is repaired without ever needing the old password.
 */
import fs from 'node:fs/promises';
import {
  VaultRequestError,
  registerSecret,
  type DatabaseConnection,
  type DatabaseConnectionWrite,
  type VaultClient,
} from '@aurora/common';
import type { DatabaseEngineConfig } from '../config.js';
import { VaultObjectConflictError, fsReason } from '../errors.js';
import type { Change } from './types.js';

/** The connection's name in Vault: `vault read database/config/aurora`. */
export const DB_CONNECTION = 'aurora';

export const POSTGRES_PLUGIN = 'postgresql-database-plugin';

/** The connection as Vault should hold it, without a password. */
export function desiredConnection(config: DatabaseEngineConfig, allowedRoles: string[]): DatabaseConnectionWrite {
  return {
    plugin_name: POSTGRES_PLUGIN,
    // Vault fills in {{username}} and {{password}}: the URL itself never holds a secret.
    connection_url: `postgresql://{{username}}:{{password}}@${config.host}:${config.port}/${config.database}`,
    username: config.superuser,
    allowed_roles: [...allowedRoles].sort(),
    verify_connection: true,
    // Vault hashes each new user's password before sending it: no password in clear reaches PostgreSQL's logs.
    password_authentication: 'scram-sha-256',
  };
}

function matches(actual: DatabaseConnection, desired: DatabaseConnectionWrite): boolean {
  const details = actual.connection_details ?? {};
  return (
    actual.plugin_name === desired.plugin_name &&
    details.connection_url === desired.connection_url &&
    details.username === desired.username &&
    (details.password_authentication ?? 'password') === desired.password_authentication &&
    JSON.stringify([...(actual.allowed_roles ?? [])].sort()) === JSON.stringify(desired.allowed_roles)
  );
}

async function readBootstrapPassword(file: string): Promise<string> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new VaultObjectConflictError(
      `cannot read PostgreSQL's bootstrap superuser password ${file} (VAULT_DB_SUPERUSER_PASSWORD_FILE): ${fsReason(err)}. ` +
        'It is generated with the database (compose: the postgres-password volume); point the setting at it.',
    );
  }
  const password = text.replace(/\n+$/, '');
  if (!password) throw new VaultObjectConflictError(`${file} (VAULT_DB_SUPERUSER_PASSWORD_FILE) is empty`);
  registerSecret(password);
  return password;
}

export async function ensureDatabaseConnection(
  client: VaultClient,
  mount: string,
  config: DatabaseEngineConfig,
  allowedRoles: string[],
): Promise<Change> {
  const db = client.database(mount);
  const desired = desiredConnection(config, allowedRoles);
  const actual = await db.readConnection(DB_CONNECTION);
  if (actual && matches(actual, desired)) return 'unchanged';
  if (actual) {
    await db.writeConnection(DB_CONNECTION, desired);
    return 'updated';
  }
  const password = await readBootstrapPassword(config.superuserPasswordFile);
  try {
    await db.writeConnection(DB_CONNECTION, { ...desired, password });
  } catch (err) {
    if (!(err instanceof VaultRequestError)) throw err;
    throw new VaultObjectConflictError(
      `Vault could not connect to PostgreSQL at ${config.host}:${config.port}/${config.database} as ${config.superuser} ` +
        `with the password in ${config.superuserPasswordFile}: ${err.message}. If Vault rotated that password ` +
        "before (rotate-root) and its connection was deleted since, the file's value is dead: restore Vault's data " +
        `(it holds the live password), or set a new one in PostgreSQL (ALTER ROLE ${config.superuser} PASSWORD …) ` +
        'and write it to the file, then rerun vault-init.',
    );
  }
  try {
    await db.rotateRoot(DB_CONNECTION);
  } catch (err) {
    // Without the rotation the bootstrap password stays live: drop the connection so that the next run starts
    // over with it, rather than finding a connection that looks complete.
    await db.deleteConnection(DB_CONNECTION).catch(() => undefined);
    throw err;
  }
  return 'created';
}
