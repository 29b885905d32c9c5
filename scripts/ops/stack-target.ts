/**
 * Where a backup is taken from and a restore goes to, and what `make status` reads: one stack, whichever it is.
 * Implementations: DirTarget (dir-target.ts: Vault's storage and init.json as local directories, PostgreSQL on
 * a port; the native stack, native-target.ts, and the tests) and ComposeTarget (compose-target.ts: the compose
 * stack, single node or HA). Which one an operation gets is decided in select-target.ts. backup-restore.ts
 * drives either through this interface.
 */
import type { PgLogin } from './database-login.js';
import type { DoctorResult } from './doctor-report.js';
import type { PsqlSession } from './write-barrier.js';
import type { InitFileKeys, SealStatus } from './vault-api.js';

/** One Raft node's seal status as that node answers it (undefined: no answer). */
export interface RaftNodeSeal {
  node: string;
  sealed: boolean | undefined;
}

export interface StackTarget {
  /** For messages: "native (.native/)", "compose (project <checkout folder>)". */
  readonly name: string;
  readonly kind: 'native' | 'compose' | 'test';
  /** The parts of the stack that are running now. */
  running(): Promise<string[]>;
  /** Whether a restore would overwrite existing data. */
  hasData(): Promise<boolean>;
  sealStatus(): Promise<SealStatus>;
  /** Is something (vault-init's watch loop) keeping Vault unsealed? If not, the tools unseal with init.json. */
  watcherRunning(): Promise<boolean>;
  /** Unseals directly with the init material (only where no vault-init watches). */
  unseal?(material: InitFileKeys): Promise<void>;
  /** Where this machine reaches Vault's API (token checks, generate-root on Raft storage). */
  vaultApiAddr(): string;
  /**
   * The operator token vault-init keeps for the CLI (it may lease maintenance users of the database engine);
   * undefined where the stack has none (the tests' stacks), so that the tools use the target's own login.
   */
  operatorToken(): Promise<string | undefined>;

  // File storage: the backup's pause.
  stopVault(): Promise<void>;
  startVault(): Promise<void>;
  copyVaultData(destTar: string): Promise<void>;
  readInit(): Promise<Buffer>;
  /**
   * pg_dump of the app's database as `login` (a leased maintenance user; undefined: the target's own login);
   * with `snapshot`, as of that exported snapshot (pg_dump --snapshot).
   */
  pgDump(destFile: string, login: PgLogin | undefined, snapshot?: string): Promise<void>;

  // Raft storage: online, no pause (write-barrier.ts).
  /** A psql session on the app's database as `login` (for the write barrier and the exported snapshot). */
  psql(login: PgLogin | undefined): PsqlSession;
  /** `vault operator raft snapshot save` with `token`, into `destFile`. */
  raftSnapshotSave(destFile: string, token: string): Promise<void>;
  /** `vault operator raft snapshot restore [-force]`; Vault applies it asynchronously after answering. */
  raftSnapshotRestore(file: string, token: string, force: boolean): Promise<void>;
  /**
   * Each Raft node's own seal status, asked of that node (not forwarded): `node` names it for messages;
   * `sealed` is undefined when the node does not answer. Every node of the cluster is listed, the active one too.
   */
  raftNodeSealStatuses(): Promise<RaftNodeSeal[]>;

  // Restore.
  /** Everything but PostgreSQL stopped; PostgreSQL running. With `keepVault` (Raft), Vault keeps running. */
  stopForRestore(options?: { keepVault?: boolean }): Promise<void>;
  putVaultData(tarFile: string): Promise<void>;
  putInit(file: string): Promise<void>;
  /**
   * Replaces the app's tables with the dump's, as `login`: the public schema is dropped and made again, and the
   * dump loaded, in one transaction. The database itself stays (Vault's own sessions to it too).
   */
  pgRestore(sqlFile: string, login: PgLogin | undefined): Promise<void>;
  /**
   * Stacks with the database engine, after a restore: gives PostgreSQL's superuser a new `password` through the
   * stack's own privileged path (compose: psql over the container's local socket; native: single-user mode,
   * PostgreSQL stopped) and writes it into the bootstrap password file, so that vault-init hands it to the
   * restored Vault, whose copy of the connection holds the password of the day of the backup, and rotates it.
   */
  resetDatabaseAdmin?(password: string): Promise<void>;
  /** Starts what stopForRestore stopped (vault-init unseals with the restored keys). */
  startAfterRestore(): Promise<void>;
  doctor(): Promise<DoctorResult>;
  /** After a verified restore: drop what was kept for a rollback. */
  cleanUp?(): Promise<void>;
}
