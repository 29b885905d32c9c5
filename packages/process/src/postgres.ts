/**
 * A real, throwaway PostgreSQL cluster: Debian's server binaries (scripts/ensure-postgres.sh installs them),
 * `initdb` in a temp dir, a free loopback port (never 5432, never the machine's own cluster).
 * PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` system user.
 *
 * Authentication is real: every connection, TCP or socket, proves the superuser's password with
 * scram-sha-256 (no `trust`, so a test that connects with a wrong password fails as it would in production).
 * The password is generated at first start and kept next to the data directory in two 0600 files: the
 * password itself (what the app's PGPASSWORD_FILE and compose's POSTGRES_PASSWORD_FILE name) and a libpq
 * password file for psql and pg_dump (PGPASSFILE), so the value never sits in a process's environment or argv.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import {
  killProcess,
  freePort,
  repoRoot,
  run,
  spawnServer,
  stopProcess,
  tempDir,
  waitFor,
  WaitFailed,
} from './processes.js';

let binDir: string | undefined;

export function postgresBinDir(): string {
  if (!binDir) binDir = run(path.join(repoRoot(), 'scripts', 'ensure-postgres.sh'), []).trim();
  return binDir;
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
export function pgCommand(bin: string, args: string[]): [string, string[]] {
  const full = path.join(postgresBinDir(), bin);
  return asRoot
    ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', full, ...args]]
    : [full, args];
}

/** The superuser every cluster here is created with. */
export const SUPERUSER = 'postgres';

/** The file holding the superuser's password (one line), next to the data directory. */
export function superuserPasswordFile(dataDir: string): string {
  return path.join(path.dirname(dataDir), 'superuser-password');
}

/** The libpq password file (`host:port:db:user:password`) for psql and pg_dump, next to the data directory. */
export function pgPassFile(dataDir: string): string {
  return path.join(path.dirname(dataDir), 'pgpass');
}

/** A PostgreSQL user and its password. */
export interface PgLogin {
  username: string;
  password: string;
}

/**
 * One line of a libpq password file for `login`, any host, port and database. `:` and `\` in the user name and
 * password are escaped with `\`, libpq's rule (PostgreSQL docs, "The Password File").
 */
export function pgPassLine(login: PgLogin): string {
  const esc = (v: string) => v.replace(/[\\:]/g, (c) => `\\${c}`);
  return `*:*:*:${esc(login.username)}:${esc(login.password)}\n`;
}

/**
 * A 0600 libpq password file holding only `login`, in a private 0700 directory under the system's temp dir, for
 * one command: the password never sits in an environment variable or an argument. `remove()` deletes it; call it
 * in a `finally`.
 */
export function transientPgPassFile(login: PgLogin): { file: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aurora-pgpass-'));
  const file = path.join(dir, 'pgpass');
  fs.writeFileSync(file, pgPassLine(login), { mode: 0o600 });
  return { file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Reads the superuser's password; the error names the file and how it comes to exist. */
export function readSuperuserPassword(dataDir: string): string {
  const file = superuserPasswordFile(dataDir);
  try {
    return fs.readFileSync(file, 'utf8').replace(/\n+$/, '');
  } catch (err) {
    throw new Error(
      `cannot read PostgreSQL's superuser password ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}): ` +
        'it is written when the cluster is created; a cluster without it needs a new data directory',
    );
  }
}

/**
 * Writes the password and the libpq password file (0600) unless they exist: a password is generated once, at
 * the cluster's first start. 32 random bytes in base64url: no character libpq's file format or a URL escapes.
 */
function ensureSuperuserPassword(dataDir: string): string {
  const file = superuserPasswordFile(dataDir);
  if (!fs.existsSync(file))
    fs.writeFileSync(file, `${crypto.randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  const password = readSuperuserPassword(dataDir);
  fs.writeFileSync(pgPassFile(dataDir), pgPassLine({ username: SUPERUSER, password }), { mode: 0o600 });
  return password;
}

/**
 * initdb a loopback-only cluster whose every connection needs the superuser's password (scram-sha-256);
 * `owned` (which holds the data directory and the password files) is chowned to postgres when we are root,
 * so that initdb, running as postgres, can read the password file.
 */
export function initCluster(dataDir: string, owned: string): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  ensureSuperuserPassword(dataDir);
  if (asRoot) run('chown', ['-R', 'postgres:postgres', owned]);
  const [cmd, args] = pgCommand('initdb', [
    '-D',
    dataDir,
    '-U',
    SUPERUSER,
    '--auth-local=scram-sha-256',
    '--auth-host=scram-sha-256',
    `--pwfile=${superuserPasswordFile(dataDir)}`,
    '-E',
    'UTF8',
    '--no-instructions',
  ]);
  run(cmd, args);
}

/** libpq's environment for psql/pg_dump against a cluster created by initCluster (no password in it). */
export function libpqEnv(dataDir: string, host: string, port: number, database: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: host,
    PGPORT: String(port),
    PGUSER: SUPERUSER,
    PGDATABASE: database,
    PGPASSFILE: pgPassFile(dataDir),
    PGPASSWORD: '',
  };
}

/** The server command line; fsync is off because these clusters are throwaway (a process crash loses nothing). */
export function postgresCommand(dataDir: string, port: number, socketDir: string, durable = false): [string, string[]] {
  return pgCommand('postgres', [
    '-D',
    dataDir,
    '-p',
    String(port),
    '-k',
    socketDir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'max_connections=200',
    ...(durable ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off']),
  ]);
}

export interface PostgresOptions {
  dataDir?: string;
  port?: number;
  database?: string;
}

export class PostgresServer {
  readonly host = '127.0.0.1';
  readonly user = SUPERUSER;
  readonly logFile: string;
  private child?: ChildProcess;

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    readonly database: string,
    readonly dir: string,
  ) {
    this.logFile = path.join(dir, 'postgres.log');
  }

  /** The superuser's password, read from its file (generated when the cluster was created). */
  get password(): string {
    return readSuperuserPassword(this.dataDir);
  }
  get passwordFile(): string {
    return superuserPasswordFile(this.dataDir);
  }
  get pgPassFile(): string {
    return pgPassFile(this.dataDir);
  }

  /** A connection string for node-postgres in tests, password included (never log it). */
  get url(): string {
    return `postgres://${this.user}:${encodeURIComponent(this.password)}@${this.host}:${this.port}/${this.database}`;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The env names the app reads (same as compose): the password by file, never by value. */
  get env(): Record<string, string> {
    return {
      PGHOST: this.host,
      PGPORT: String(this.port),
      PGUSER: this.user,
      PGPASSWORD_FILE: this.passwordFile,
      PGDATABASE: this.database,
    };
  }

  static async start(options: PostgresOptions = {}): Promise<PostgresServer> {
    const dir = tempDir('postgres');
    if (asRoot) fs.chmodSync(dir, 0o755);
    const dataDir = options.dataDir ?? path.join(dir, 'data');
    const fresh = !fs.existsSync(path.join(dataDir, 'PG_VERSION'));
    const server = new PostgresServer(dataDir, options.port ?? (await freePort()), options.database ?? 'aurora', dir);
    if (fresh) initCluster(dataDir, dir);
    await server.startProcess();
    if (fresh) await server.psql('postgres', `CREATE DATABASE ${server.database}`);
    return server;
  }

  async startProcess(): Promise<void> {
    const sockDir = this.dir;
    const [cmd, args] = postgresCommand(this.dataDir, this.port, sockDir);
    this.child = spawnServer(cmd, args, { logFile: this.logFile });
    const child = this.child;
    const isReady = path.join(postgresBinDir(), 'pg_isready');
    await waitFor(
      `PostgreSQL on port ${this.port} (log: ${this.logFile})`,
      async () => {
        if (child.exitCode !== null)
          throw new WaitFailed(
            `postgres exited ${child.exitCode}: ${fs.readFileSync(this.logFile, 'utf8').slice(-2000)}`,
          );
        try {
          run(isReady, ['-h', this.host, '-p', String(this.port), '-q']);
          return true;
        } catch {
          return undefined;
        }
      },
      30_000,
      100,
    );
  }

  /** Runs SQL through the real psql client; returns its unaligned output. */
  async psql(database: string, sql: string): Promise<string> {
    return run(path.join(postgresBinDir(), 'psql'), ['-w', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], {
      env: libpqEnv(this.dataDir, this.host, this.port, database),
    });
  }

  /**
   * Runs SQL through the real psql client as `login` (e.g. a user leased from Vault), its password in a 0600 libpq
   * password file that exists for this one command (never in an environment variable or an argument).
   */
  async psqlAs(login: PgLogin, sql: string, database = this.database): Promise<string> {
    const passFile = transientPgPassFile(login);
    try {
      return run(path.join(postgresBinDir(), 'psql'), ['-w', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], {
        env: {
          ...libpqEnv(this.dataDir, this.host, this.port, database),
          PGUSER: login.username,
          PGPASSFILE: passFile.file,
        },
      });
    } finally {
      passFile.remove();
    }
  }

  pgDump(): string {
    return run(path.join(postgresBinDir(), 'pg_dump'), ['-w', this.database], {
      env: libpqEnv(this.dataDir, this.host, this.port, this.database),
    });
  }

  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child, 'SIGINT');
  }

  async kill(): Promise<void> {
    if (this.child) await killProcess(this.child);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.startProcess();
  }
}
