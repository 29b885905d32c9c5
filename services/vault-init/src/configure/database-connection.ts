/**
 * The database secrets engine's connection to PostgreSQL (`database/config/<name>`, PostgreSQL plugin).
 *
 * Vault is given the bootstrap superuser password once, when the connection is created, and rotates it at
 * once (`rotate-root`): from then on only Vault knows the live password, and the bootstrap file's value no
 * longer works (PostgreSQL's image reads that file only to initialize an empty data directory). Later runs
 * compare the connection's settings and rewrite them without a password (Vault keeps the one it has), so a
 * rerun changes nothing and drift is repaired without ever needing the old password.
 *
 * A new value in the bootstrap file is handed over again: vault-init records the SHA-256 of the value it handed
 * over (secret/aurora/database-bootstrap, beside the connection it belongs to, so a restored Vault carries its
 * own record), and a file whose hash differs means someone set a new superuser password in PostgreSQL and wrote
 * it there. That is how `make restore` gives a restored Vault the live password of the database it now serves
 * (its copy of the connection holds the password of the day of the backup), and how an operator recovers a
 * connection whose password was lost: `ALTER ROLE … PASSWORD`, the same value into the file, restart vault-init.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import {
  VaultNotFoundError,
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

/**
 * Where vault-init records which bootstrap password it handed over last: a salted scrypt fingerprint, never the
 * value. Slow and salted because the file may hold a password a person chose (the recovery path: ALTER ROLE …
 * PASSWORD, the same value into the file), which a plain hash in KV would let anyone with read access guess
 * offline. Records of earlier versions hold a plain SHA-256 under `sha256`; they are read once and replaced.
 */
export const BOOTSTRAP_RECORD = { mount: 'secret', path: 'aurora/database-bootstrap', key: 'fingerprint' } as const;

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
        'It is generated with the database (compose: the postgres-password volume; make native: ' +
        '.native/postgres/superuser-password); point the setting at it.',
    );
  }
  const password = text.replace(/\n+$/, '');
  if (!password) throw new VaultObjectConflictError(`${file} (VAULT_DB_SUPERUSER_PASSWORD_FILE) is empty`);
  registerSecret(password);
  return password;
}

// scrypt's parameters for interactive logins (N = 2^14, r = 8, p = 1: Percival, "Stronger key derivation via
// sequential memory-hard functions", 2009; node's defaults): about 16 MiB and tens of milliseconds, once per run.
const SCRYPT: ScryptParams = { N: 16384, r: 8, p: 1 };

/** `scrypt$<N>$<r>$<p>$<salt, base64url>$<32-byte key, base64url>` of `password` with `salt` (fresh when omitted). */
function fingerprint(password: string, salt = crypto.randomBytes(16), params: ScryptParams = SCRYPT): string {
  const key = crypto.scryptSync(password, salt, 32, { ...params, maxmem: 256 * params.N * params.r });
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * Whether `password` is the one the record was made of, with the parameters the record names (so a change of
 * SCRYPT above still reads older records); a record that cannot be read matches nothing.
 */
function isRecorded(record: Record<string, string>, password: string): boolean {
  const stored = record[BOOTSTRAP_RECORD.key];
  if (stored !== undefined) {
    const [kind, n, r, p, salt] = stored.split('$');
    const params = { N: Number(n), r: Number(r), p: Number(p) };
    const sane =
      params.N >= 2 && params.N <= 2 ** 20 && params.r >= 1 && params.r <= 32 && params.p >= 1 && params.p <= 16;
    if (kind !== 'scrypt' || !sane || !salt) return false;
    const expected = Buffer.from(stored);
    const actual = Buffer.from(fingerprint(password, Buffer.from(salt, 'base64url'), params));
    return expected.length === actual.length && crypto.timingSafeEqual(expected, actual);
  }
  const legacy = record.sha256;
  return legacy !== undefined && legacy === crypto.createHash('sha256').update(password).digest('hex');
}

/** The record of the bootstrap password handed over last, or undefined when none is recorded. */
async function handedOver(client: VaultClient): Promise<Record<string, string> | undefined> {
  try {
    return (await client.kvRead(BOOTSTRAP_RECORD.mount, BOOTSTRAP_RECORD.path)).data;
  } catch (err) {
    if (err instanceof VaultNotFoundError) return undefined;
    throw err;
  }
}

async function recordHandedOver(client: VaultClient, password: string): Promise<void> {
  await client.kvWrite(BOOTSTRAP_RECORD.mount, BOOTSTRAP_RECORD.path, {
    [BOOTSTRAP_RECORD.key]: fingerprint(password),
  });
}

/** The bootstrap file's value when it exists; undefined when it does not (nothing new to hand over). */
async function bootstrapIfPresent(file: string): Promise<string | undefined> {
  try {
    await fs.access(file);
  } catch {
    return undefined;
  }
  return readBootstrapPassword(file);
}

/**
 * Gives Vault `password` for the connection (Vault verifies it by connecting) and has Vault rotate it at once.
 * `fresh`: no connection existed before, so one that cannot rotate is dropped again (the next run starts over
 * with the same file); an existing one is left holding the password it was given, which the next run retries.
 */
async function handOver(
  client: VaultClient,
  mount: string,
  config: DatabaseEngineConfig,
  desired: DatabaseConnectionWrite,
  password: string,
  fresh: boolean,
): Promise<void> {
  const db = client.database(mount);
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
    // Without the rotation the bootstrap password stays live: drop a new connection so that the next run starts
    // over with it, rather than finding a connection that looks complete.
    if (fresh) await db.deleteConnection(DB_CONNECTION).catch(() => undefined);
    throw err;
  }
  await recordHandedOver(client, password);
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
  if (!actual) {
    await handOver(client, mount, config, desired, await readBootstrapPassword(config.superuserPasswordFile), true);
    return 'created';
  }
  const file = await bootstrapIfPresent(config.superuserPasswordFile);
  const recorded = await handedOver(client);
  if (file !== undefined && recorded !== undefined && !isRecorded(recorded, file)) {
    await handOver(client, mount, config, desired, file, false);
    return 'updated';
  }
  // A connection made before fingerprints were recorded (or with a plain SHA-256): its file's value is the one
  // handed over.
  if (file !== undefined && (recorded === undefined || recorded[BOOTSTRAP_RECORD.key] === undefined))
    await recordHandedOver(client, file);
  if (matches(actual, desired)) return 'unchanged';
  await db.writeConnection(DB_CONNECTION, desired);
  return 'updated';
}
