/**
 * What the stories about Vault's database secrets engine start from: a fresh Vault and a PostgreSQL cluster of
 * their own, vault-init's environment pointing the engine at that cluster (one unseal key), and the app wired as
 * compose wires it: AppRole files from vault-init, PostgreSQL users leased from Vault, one admin API Client.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import type { VaultClient } from '@aurora/common';
import {
  AppProcess,
  databaseEngineInitEnv,
  leasedAppEnv,
  PostgresServer,
  postgresBinDir,
  startBoth,
  startVault,
  stopIfSetUpFails,
  tempDir,
  transientPgPassFile,
  vaultInitDirs,
  vaultInitEnv,
  type VaultInitDirs,
  type VaultServer,
} from '@aurora/process';

export interface DatabaseScene {
  /** A fresh, uninitialized Vault; the test stops it. */
  vault: VaultServer;
  /** A fresh PostgreSQL cluster whose superuser password vault-init hands to Vault; the test stops it. */
  postgres: PostgresServer;
  /** vault-init's init, AppRole and CLI directories, empty. */
  dirs: VaultInitDirs;
  /** vault-init's environment: one unseal key, the database engine on `postgres`, `overrides` on top. */
  env: Record<string, string>;
}

/**
 * Starts Vault and PostgreSQL (both or neither) and prepares vault-init's directories and environment for them;
 * `overrides` adds or replaces settings (e.g. VAULT_DB_DEFAULT_TTL).
 */
export async function databaseScene(overrides: Record<string, string> = {}): Promise<DatabaseScene> {
  const [vault, postgres] = await startBoth(startVault(), PostgresServer.start());
  const dirs = vaultInitDirs();
  const env = await vaultInitEnv(vault, dirs, {
    VAULT_SECRET_SHARES: '1',
    VAULT_SECRET_THRESHOLD: '1',
    ...databaseEngineInitEnv(postgres),
    ...overrides,
  });
  return { vault, postgres, dirs, env };
}

/**
 * Starts the app (named `name`, under a temp dir of that name) on `scene` once vault-init has configured it: it
 * logs in with the app's AppRole files, connects to PostgreSQL as users leased from the aurora-app role
 * (migrations as aurora-maintenance), and knows one admin API Client with a random secret. `env` adds app
 * settings. Resolves when the app is ready (60 s at most) with `header`, the admin's Basic authorization.
 */
export async function startLeasedApp(
  scene: DatabaseScene,
  name: string,
  env: Record<string, string> = {},
): Promise<{ app: AppProcess; header: string }> {
  const { vault, postgres, dirs } = scene;
  const dir = tempDir(name);
  const secret = `admin-${crypto.randomBytes(18).toString('base64url')}`;
  fs.writeFileSync(path.join(dir, 'admin-secret'), secret, { mode: 0o400 });
  fs.writeFileSync(
    path.join(dir, 'vault-config.json'),
    JSON.stringify({
      secret: {
        'admin-secret': { path: path.join(dir, 'admin-secret'), scope: { resource_type: 'Client', id: 'admin' } },
      },
    }),
  );
  const app = await stopIfSetUpFails(
    await AppProcess.start(
      {
        VAULT_ADDR: vault.addr,
        VAULT_APPROLE_DIR: path.join(dirs.approleDir, 'app'),
        SECRETS_CONFIG: path.join(dir, 'vault-config.json'),
        ...leasedAppEnv(postgres),
        ...env,
      },
      path.join(dir, 'app'),
    ),
    (started) => started.waitReady(60_000),
  );
  return { app, header: `Basic ${Buffer.from(`admin:${secret}`).toString('base64')}` };
}

/** A pg client connected to `postgres`'s database as `creds` (e.g. a user Vault leased); the caller ends it. */
export async function connectAs(
  postgres: PostgresServer,
  creds: { username: string; password: string },
): Promise<pg.Client> {
  const db = new pg.Client({
    host: postgres.host,
    port: postgres.port,
    database: postgres.database,
    user: creds.username,
    password: creds.password,
    connectionTimeoutMillis: 10_000,
  });
  await db.connect();
  return db;
}

/**
 * Runs a libpq client (`pg_dump`, `psql`, from the pinned PostgreSQL) against `database` at `host`:`port` as a user
 * leased from Vault's `aurora-maintenance` role (the role backups use), as an operator would: the password in a 0600
 * libpq password file for that one command, the lease revoked afterwards. Returns the client's stdout and the
 * leased password (for leak scans). Throws with the client's stderr when it exits non-zero.
 */
export async function runAsMaintenanceUser(
  vault: VaultClient,
  target: { host: string; port: number; database: string },
  program: 'pg_dump' | 'psql',
  args: string[],
): Promise<{ stdout: string; password: string }> {
  const creds = await vault.database().credentials('aurora-maintenance');
  const passFile = transientPgPassFile(creds);
  try {
    const res = spawnSync(path.join(postgresBinDir(), program), ['-w', ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        PGHOST: target.host,
        PGPORT: String(target.port),
        PGDATABASE: target.database,
        PGUSER: creds.username,
        PGPASSFILE: passFile.file,
        PGPASSWORD: '',
      },
    });
    if (res.status !== 0) throw new Error(`${program} as a leased maintenance user failed: ${res.stderr}`);
    return { stdout: res.stdout, password: creds.password };
  } finally {
    passFile.remove();
    await vault.revokeLease(creds.leaseId);
  }
}
