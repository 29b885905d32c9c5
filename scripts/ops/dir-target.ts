/**
 * A stack whose Vault storage and init.json are directories on this machine and whose PostgreSQL answers on a
 * loopback port: the native stack (.native/, native-target.ts supplies the process control) and the tests'
 * stacks (their own process control over the process library's servers).
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pgCommand, transientPgPassFile } from '@aurora/process';
import { BackupError } from './archive.js';
import { scramVerifier, type PgLogin } from './database-login.js';
import { writePrivateFile } from './private-file.js';
import type { DoctorResult } from './doctor-report.js';
import { exec } from './run-command.js';
import type { RaftNodeSeal, StackTarget } from './stack-target.js';
import { opsClient, sealStatus, unsealWith, type InitFileKeys, type SealStatus } from './vault-api.js';
import { PsqlSession } from './write-barrier.js';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * What a restore runs before the dump: the app's schema made empty, in the same transaction as the load. Not
 * DROP DATABASE: Vault's own sessions (as the superuser) stay connected to the database, and a maintenance user
 * may not end them; as the schema's owner it may drop the schema and everything in it.
 */
export const RECREATE_PUBLIC_SCHEMA = 'DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;';

export interface PgConnection {
  binDir: string;
  host: string;
  port: number;
  user: string;
  database: string;
  /**
   * The target's own login, for stacks without the database engine: a libpq password file (PGPASSFILE) holding
   * `user`'s password; the value never enters an environment.
   */
  passFile?: string;
  /**
   * Stacks with the database engine (the native one): the cluster's data directory and the bootstrap password
   * file vault-init hands over, for resetDatabaseAdmin after a restore.
   */
  admin?: { dataDir: string; bootstrapPasswordFile: string };
}

export interface DirTargetControl {
  running(): Promise<string[]>;
  /** Stops PostgreSQL (resetDatabaseAdmin needs it stopped: single-user mode); startAfterRestore starts it. */
  stopPostgres?(): Promise<void>;
  stopVault(): Promise<void>;
  startVault(): Promise<void>;
  watcherRunning(): Promise<boolean>;
  stopForRestore(options?: { keepVault?: boolean }): Promise<void>;
  startAfterRestore(): Promise<void>;
  doctor(): Promise<DoctorResult>;
}

export interface DirTargetOptions {
  name: string;
  kind: 'native' | 'test';
  vaultAddr: string;
  /** Raft storage: every node's API address (the seal of each is checked after a snapshot restore). */
  raftNodeAddrs?: string[];
  vaultDataDir: string;
  initFile: string;
  /** The CLI's operator token vault-init writes (native: .native/cli/.vault-token); none: the pg login is own. */
  operatorTokenFile?: string;
  pg: PgConnection;
  control: DirTargetControl;
}

/** Vault file storage + init.json as local directories, PostgreSQL on a port: native mode and the tests. */
export class DirTarget implements StackTarget {
  readonly name: string;
  readonly kind: 'native' | 'test';
  private previousData?: string;

  constructor(readonly options: DirTargetOptions) {
    this.name = options.name;
    this.kind = options.kind;
    if (!IDENT.test(options.pg.database))
      throw new BackupError(`database name ${JSON.stringify(options.pg.database)} is not a plain identifier`, 2);
  }

  running(): Promise<string[]> {
    return this.options.control.running();
  }

  async hasData(): Promise<boolean> {
    const { vaultDataDir, initFile } = this.options;
    return fs.existsSync(initFile) || (fs.existsSync(vaultDataDir) && fs.readdirSync(vaultDataDir).length > 0);
  }

  sealStatus(): Promise<SealStatus> {
    return sealStatus(this.options.vaultAddr);
  }
  vaultApiAddr(): string {
    return this.options.vaultAddr;
  }
  async operatorToken(): Promise<string | undefined> {
    const file = this.options.operatorTokenFile;
    if (!file) return undefined;
    try {
      return fs.readFileSync(file, 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }
  watcherRunning(): Promise<boolean> {
    return this.options.control.watcherRunning();
  }
  unseal(material: InitFileKeys): Promise<void> {
    return unsealWith(this.options.vaultAddr, material);
  }
  stopVault(): Promise<void> {
    return this.options.control.stopVault();
  }
  startVault(): Promise<void> {
    return this.options.control.startVault();
  }

  async copyVaultData(destTar: string): Promise<void> {
    const dir = this.options.vaultDataDir;
    if (!fs.existsSync(dir))
      throw new BackupError(`Vault's storage dir ${dir} does not exist: is this stack initialized?`);
    exec('tar', ['-cf', destTar, '-C', dir, '.'], { what: `tar of ${dir}` });
    fs.chmodSync(destTar, 0o600);
  }

  async readInit(): Promise<Buffer> {
    try {
      return fs.readFileSync(this.options.initFile);
    } catch (err) {
      throw new BackupError(
        `cannot read the init material ${this.options.initFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }

  /** libpq's environment for `login` (its password in `passFile`), or for the target's own login. */
  private pgEnv(login?: { user: string; passFile: string }): NodeJS.ProcessEnv {
    const { pg } = this.options;
    const passFile = login?.passFile ?? pg.passFile;
    return {
      ...process.env,
      PGHOST: pg.host,
      PGPORT: String(pg.port),
      PGUSER: login?.user ?? pg.user,
      PGPASSWORD: '',
      ...(passFile ? { PGPASSFILE: passFile } : {}),
      PGCONNECT_TIMEOUT: '10',
    };
  }

  /** Runs `fn` with libpq's environment for `login` (undefined: the target's own). */
  private withLogin<T>(login: PgLogin | undefined, fn: (env: NodeJS.ProcessEnv) => T): T {
    if (!login) return fn(this.pgEnv());
    const passFile = transientPgPassFile(login);
    try {
      return fn(this.pgEnv({ user: login.username, passFile: passFile.file }));
    } finally {
      passFile.remove();
    }
  }

  async pgDump(destFile: string, login: PgLogin | undefined, snapshot?: string): Promise<void> {
    const { pg } = this.options;
    this.withLogin(login, (env) =>
      exec(
        path.join(pg.binDir, 'pg_dump'),
        ['-w', '--no-owner', '--no-acl', ...(snapshot ? [`--snapshot=${snapshot}`] : []), '-d', pg.database],
        { outFile: destFile, env, what: 'pg_dump' },
      ),
    );
  }

  psql(login: PgLogin | undefined): PsqlSession {
    const { pg } = this.options;
    const cmd = path.join(pg.binDir, 'psql');
    if (!login) return new PsqlSession(cmd, ['-w', '-d', pg.database], this.pgEnv());
    const passFile = transientPgPassFile(login);
    const env = this.pgEnv({ user: login.username, passFile: passFile.file });
    return new PsqlSession(cmd, ['-w', '-d', pg.database], env, 'psql', { cleanup: passFile.remove });
  }

  /** The API call the CLI makes (`vault operator raft snapshot save`), streamed to the file. */
  async raftSnapshotSave(destFile: string, token: string): Promise<void> {
    await opsClient(this.options.vaultAddr, token).raft.snapshotSave(destFile);
  }

  /** `vault operator raft snapshot restore [-force]`; a standby's redirect to the active node is followed. */
  async raftSnapshotRestore(file: string, token: string, force: boolean): Promise<void> {
    await opsClient(this.options.vaultAddr, token).raft.snapshotRestore(file, { force });
  }

  async raftNodeSealStatuses(): Promise<RaftNodeSeal[]> {
    const addrs = this.options.raftNodeAddrs ?? [this.options.vaultAddr];
    return Promise.all(
      addrs.map(async (node) => ({ node, sealed: (await sealStatus(node).catch(() => undefined))?.sealed })),
    );
  }

  stopForRestore(options?: { keepVault?: boolean }): Promise<void> {
    return this.options.control.stopForRestore(options);
  }

  async putVaultData(tarFile: string): Promise<void> {
    const dir = this.options.vaultDataDir;
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const fresh = `${dir}.restoring`;
    fs.rmSync(fresh, { recursive: true, force: true });
    fs.mkdirSync(fresh, { mode: 0o700 });
    exec('tar', ['-xf', tarFile, '-C', fresh], { what: "unpacking Vault's data" });
    fs.chmodSync(fresh, 0o700);
    const previous = `${dir}.pre-restore`;
    if (fs.existsSync(dir)) {
      // A .pre-restore left by a failed restore holds the data from before it: keep that one.
      if (fs.existsSync(previous)) fs.rmSync(dir, { recursive: true, force: true });
      else fs.renameSync(dir, previous);
    }
    if (fs.existsSync(previous)) this.previousData = previous;
    fs.renameSync(fresh, dir);
  }

  async putInit(file: string): Promise<void> {
    writePrivateFile(this.options.initFile, fs.readFileSync(file));
    fs.rmSync(`${this.options.initFile}.tmp`, { force: true });
  }

  async pgRestore(sqlFile: string, login: PgLogin | undefined): Promise<void> {
    const { pg } = this.options;
    this.withLogin(login, (env) =>
      exec(
        path.join(pg.binDir, 'psql'),
        ['-w', '-d', pg.database, '-v', 'ON_ERROR_STOP=1', '-q', '-o', '/dev/null', '--single-transaction'].concat([
          '-c',
          RECREATE_PUBLIC_SCHEMA,
          '-f',
          sqlFile,
        ]),
        { env, what: 'loading the PostgreSQL dump' },
      ),
    );
  }

  /**
   * Single-user mode (`postgres --single`): the server's own way in for its owner, no password, no network;
   * PostgreSQL must be stopped for it. The verifier, not the password, goes to the server.
   */
  async resetDatabaseAdmin(password: string): Promise<void> {
    const { pg, control } = this.options;
    if (!pg.admin || !control.stopPostgres)
      throw new BackupError(`the ${this.name} stack has no way to reset PostgreSQL's superuser password`);
    await control.stopPostgres();
    const [cmd, args] = pgCommand('postgres', ['--single', '-D', pg.admin.dataDir, 'postgres']);
    const res = spawnSync(cmd, args, {
      input: `ALTER ROLE "${pg.user}" PASSWORD '${scramVerifier(password)}'\n`,
      encoding: 'utf8',
    });
    // Single-user mode reports a failed statement (on stderr) and still exits 0.
    // Without the STATEMENT lines: they would repeat the verifier.
    const out = `${res.stdout ?? ''}${res.stderr ?? ''}`
      .split('\n')
      .filter((l) => !/STATEMENT:/.test(l))
      .join('\n');
    if (res.status !== 0 || /\b(ERROR|FATAL|PANIC):/.test(out))
      throw new BackupError(
        `postgres --single did not set the superuser's new password (exit ${res.status ?? res.signal ?? res.error?.message}): ${out.trim().slice(-800)}`,
      );
    writePrivateFile(pg.admin.bootstrapPasswordFile, Buffer.from(`${password}\n`));
  }

  startAfterRestore(): Promise<void> {
    return this.options.control.startAfterRestore();
  }
  doctor(): Promise<DoctorResult> {
    return this.options.control.doctor();
  }

  async cleanUp(): Promise<void> {
    if (this.previousData) fs.rmSync(this.previousData, { recursive: true, force: true });
  }
}
