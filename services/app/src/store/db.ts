/**
 * The PostgreSQL pool and the migration runner. Migrations are plain SQL files applied in name order,
 * each once, inside a transaction, under an advisory lock so that two app instances never race.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import {
  DatabaseUnavailableError,
  MIGRATION_LOCK_SQL,
  MIGRATION_UNLOCK_SQL,
  registerSecret,
  type DatabaseCredentials,
  type Logger,
} from '@aurora/common';
import type { AppConfig } from '../config.js';

/**
 * Reads a password file as PostgreSQL's own images do (POSTGRES_PASSWORD_FILE): its content without trailing
 * newlines, registered with the redacting logger. The error names the file and the setting, never the content.
 */
export async function readPasswordFile(file: string): Promise<string> {
  let password: string;
  try {
    password = (await fs.readFile(file, 'utf8')).replace(/\n+$/, '');
  } catch (err) {
    throw new Error(
      `cannot read the PostgreSQL password file ${file} (PGPASSWORD_FILE): ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      { cause: err },
    );
  }
  registerSecret(password);
  return password;
}

/** What the stores need of a pool: a pg.Pool, or the RotatingPool that swaps one for fresh credentials. */
export type Db = Pick<pg.Pool, 'query' | 'connect'>;

export function createPool(config: AppConfig['postgres']): pg.Pool {
  const { passwordFile } = config;
  const pool = new pg.Pool({
    host: config.host,
    port: config.port,
    user: config.user,
    // A function is asked at each new connection: a rewritten file is used without a restart.
    password: passwordFile ? () => readPasswordFile(passwordFile) : (config.password ?? ''),
    database: config.database,
    max: config.poolSize,
    connectionTimeoutMillis: config.connectTimeoutMs,
    statement_timeout: config.statementTimeoutMs,
    query_timeout: config.statementTimeoutMs + 1000,
    keepAlive: true,
  });
  // An idle client losing its connection (PostgreSQL restarted) must not crash the process.
  pool.on('error', () => {
    /* the next query reconnects */
  });
  return pool;
}

/** A pool with `config`'s settings that logs in as the user Vault leased (`credentials`), not PGUSER. */
export function poolFor(config: AppConfig['postgres'], credentials: DatabaseCredentials): pg.Pool {
  return createPool({
    ...config,
    user: credentials.username,
    password: credentials.password,
    passwordFile: undefined,
  });
}

/** Connection-level failures become a 503; SQL errors stay as they are (they are bugs or constraint hits). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? '';
  const message = (err as Error)?.message ?? '';
  return (
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|57P0[123]|08\d\d\d|53300)$/.test(code) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout|connection timeout/i.test(
      message,
    )
  );
}

export function translateDbError(err: unknown): unknown {
  return isConnectionError(err) ? new DatabaseUnavailableError(err) : err;
}

/**
 * A checked-out pg client has no 'error' listener (the pool removes its own on checkout), so a connection
 * dying while we hold it (PostgreSQL stopped) would be an unhandled 'error' event and crash the process.
 * The query in progress is rejected anyway; this listener only keeps the event from being fatal.
 */
export function guardClient(client: pg.PoolClient): (err?: unknown) => void {
  const onError = () => {
    /* the pending query rejects; the client is discarded on release */
  };
  client.on('error', onError);
  return (err?: unknown) => {
    // A client released with an error is destroyed: leave the guard on it for any late event.
    if (err === undefined) client.removeListener('error', onError);
    client.release(err instanceof Error ? err : err === undefined ? undefined : true);
  };
}

const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '..', '..', 'migrations');

export async function migrate(pool: Db, logger: Logger, dir = MIGRATIONS_DIR): Promise<void> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const client = await pool.connect();
  const release = guardClient(client);
  try {
    await client.query(MIGRATION_LOCK_SQL);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set(
      (await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name),
    );
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await fs.readFile(path.join(dir, file), 'utf8');
      const started = Date.now();
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
      logger.info('applied migration', { migration: file, ms: Date.now() - started });
    }
  } finally {
    await client.query(MIGRATION_UNLOCK_SQL).catch(() => undefined);
    release();
  }
}
