/**
 * How the operations tools log in to PostgreSQL on a stack with Vault's database secrets engine: as a user of
 * the maintenance role (`database/creds/aurora-maintenance`), leased with the stack's operator token through the
 * one Vault client and revoked when the job is done. Its sessions act as the owner role (aurora_owner), so what a
 * restore creates belongs to that fixed role, never to the short-lived user. No password is stored anywhere: the
 * lease's password lives in this process's memory and, for psql and pg_dump, in a 0600 libpq password file that
 * exists for the one command (the targets write it; never an environment variable or an argument).
 */
import crypto from 'node:crypto';
import type { PgLogin } from '@aurora/process';
import { DATABASE_MOUNT } from '@aurora/vault-init/configure/database-engine';
import { DB_MAINTENANCE_ROLE } from '@aurora/vault-init/configure/database-roles';
import { BackupError } from './archive.js';
import { opsClient } from './vault-api.js';

export { pgPassLine, type PgLogin } from '@aurora/process';

/** A leased maintenance user; `revoke()` ends the lease (Vault drops the user) and never throws. */
export interface MaintenanceLease {
  login: PgLogin;
  revoke(): Promise<void>;
}

/**
 * A maintenance user leased from the Vault at `addr` with `token`; undefined when there is no token or this
 * Vault has no database secrets engine (a stack whose PostgreSQL keeps its own password, as the tests' stacks).
 * Errors (Vault sealed, the token refused) say what to do.
 */
export async function leaseMaintenanceUser(
  addr: string,
  token: string | undefined,
): Promise<MaintenanceLease | undefined> {
  if (!token) return undefined;
  const client = opsClient(addr, token);
  let creds;
  try {
    if (!(await client.mounts())[`${DATABASE_MOUNT}/`]) return undefined;
    creds = await client.database(DATABASE_MOUNT).credentials(DB_MAINTENANCE_ROLE);
  } catch (err) {
    throw new BackupError(
      `could not lease a PostgreSQL maintenance user from Vault at ${addr} (${DATABASE_MOUNT}/creds/${DB_MAINTENANCE_ROLE}): ` +
        `${(err as Error).message}. Vault must be unsealed and vault-init must have configured it (its logs say so).`,
    );
  }
  const leaseId = creds.leaseId;
  return {
    login: { username: creds.username, password: creds.password },
    revoke: async () => {
      await opsClient(addr, token)
        .revokeLease(leaseId)
        .catch(() => undefined);
    },
  };
}

/** A superuser password for a restore to hand over: 40 characters of [A-Za-z0-9], as compose generates them. */
export function newSuperuserPassword(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from({ length: 40 }, () => alphabet[crypto.randomInt(alphabet.length)]).join('');
}

/**
 * PostgreSQL's SCRAM-SHA-256 verifier of `password` (RFC 5802/7677 as PostgreSQL stores it in pg_authid):
 * `ALTER ROLE … PASSWORD '<verifier>'` sets the password without the clear text ever reaching the server, its
 * logs or its statement history. 4096 iterations, a 16-byte salt: PostgreSQL's defaults.
 */
export function scramVerifier(password: string): string {
  const salt = crypto.randomBytes(16);
  const iterations = 4096;
  const salted = crypto.pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const hmac = (key: Buffer, text: string) => crypto.createHmac('sha256', key).update(text).digest();
  const storedKey = crypto.createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
