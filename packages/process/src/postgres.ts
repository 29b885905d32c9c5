/**
 * A real, throwaway PostgreSQL cluster: Debian's server binaries (scripts/ensure-postgres.sh installs them),
 * `initdb` in a temp dir, a free loopback port (never 5432, never the machine's own cluster).
 * PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` system user.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { killProcess, freePort, repoRoot, run, spawnServer, stopProcess, tempDir, waitFor } from './processes.js';

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

/** initdb a loopback-only cluster with trust auth; `owned` is chowned to postgres when we are root. */
export function initCluster(dataDir: string, owned: string): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (asRoot) run('chown', ['-R', 'postgres:postgres', owned]);
  const [cmd, args] = pgCommand('initdb', [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-instructions',
  ]);
  run(cmd, args);
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
  readonly user = 'postgres';
  readonly password = '';
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

  get url(): string {
    return `postgres://${this.user}@${this.host}:${this.port}/${this.database}`;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The env names the app reads (same as compose). */
  get env(): Record<string, string> {
    return {
      PGHOST: this.host,
      PGPORT: String(this.port),
      PGUSER: this.user,
      PGPASSWORD: this.password,
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
          throw new Error(`postgres exited ${child.exitCode}: ${fs.readFileSync(this.logFile, 'utf8').slice(-2000)}`);
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
    return run(path.join(postgresBinDir(), 'psql'), [
      ...this.clientArgs(),
      '-d',
      database,
      '-v',
      'ON_ERROR_STOP=1',
      '-At',
      '-c',
      sql,
    ]);
  }

  pgDump(): string {
    return run(path.join(postgresBinDir(), 'pg_dump'), [...this.clientArgs(), this.database]);
  }

  /** How psql and pg_dump reach this server: host, port, user. */
  private clientArgs(): string[] {
    return ['-h', this.host, '-p', String(this.port), '-U', this.user];
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
