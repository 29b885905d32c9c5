/**
 * A stack whose Vault storage and init.json are directories on this machine and whose PostgreSQL answers on a
 * loopback port: the native stack (.native/, native-target.ts supplies the process control) and the tests'
 * stacks (their own process control over the process library's servers).
 */
import fs from 'node:fs';
import path from 'node:path';
import { BackupError } from './archive.js';
import type { DoctorResult } from './doctor-report.js';
import { writePrivateFile } from './private-file.js';
import { exec } from './run-command.js';
import type { RaftNodeSeal, StackTarget } from './stack-target.js';
import { opsClient, sealStatus, unsealWith, type InitFileKeys, type SealStatus } from './vault-api.js';
import { PsqlSession } from './write-barrier.js';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface PgConnection {
  binDir: string;
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string;
}

export interface DirTargetControl {
  running(): Promise<string[]>;
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

  private pgEnv(): NodeJS.ProcessEnv {
    const { pg } = this.options;
    return {
      ...process.env,
      PGHOST: pg.host,
      PGPORT: String(pg.port),
      PGUSER: pg.user,
      PGPASSWORD: pg.password ?? '',
      PGCONNECT_TIMEOUT: '10',
    };
  }

  async pgDump(destFile: string, snapshot?: string): Promise<void> {
    const { pg } = this.options;
    exec(
      path.join(pg.binDir, 'pg_dump'),
      ['--no-owner', '--no-acl', ...(snapshot ? [`--snapshot=${snapshot}`] : []), '-d', pg.database],
      { outFile: destFile, env: this.pgEnv(), what: 'pg_dump' },
    );
  }

  psql(): PsqlSession {
    const { pg } = this.options;
    return new PsqlSession(path.join(pg.binDir, 'psql'), ['-d', pg.database], this.pgEnv());
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

  async pgRestore(sqlFile: string): Promise<void> {
    const { pg } = this.options;
    const psql = path.join(pg.binDir, 'psql');
    const db = `"${pg.database}"`;
    exec(
      psql,
      [
        '-d',
        'postgres',
        '-v',
        'ON_ERROR_STOP=1',
        '-q',
        '-c',
        `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`,
        '-c',
        `CREATE DATABASE ${db}`,
      ],
      { env: this.pgEnv(), what: 'recreating the database' },
    );
    exec(
      psql,
      ['-d', pg.database, '-v', 'ON_ERROR_STOP=1', '-q', '-o', '/dev/null', '--single-transaction', '-f', sqlFile],
      { env: this.pgEnv(), what: 'loading the PostgreSQL dump' },
    );
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
