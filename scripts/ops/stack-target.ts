/**
 * Where a backup is taken from and a restore goes to, and what `make status` reads: one stack, whichever it is.
 * Implementations: DirTarget (dir-target.ts: Vault's storage and init.json as local directories, PostgreSQL on
 * a port; the native stack, native-target.ts, and the tests) and ComposeTarget (compose-target.ts: the compose
 * stack, single node or HA). Which one an operation gets is decided in select-target.ts. backup-restore.ts
 * drives either through this interface.
 */
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

  // File storage: the backup's pause.
  stopVault(): Promise<void>;
  startVault(): Promise<void>;
  copyVaultData(destTar: string): Promise<void>;
  readInit(): Promise<Buffer>;
  /** pg_dump of the app's database; with `snapshot`, as of that exported snapshot (pg_dump --snapshot). */
  pgDump(destFile: string, snapshot?: string): Promise<void>;

  // Raft storage: online, no pause (write-barrier.ts).
  /** A psql session on the app's database (for the write barrier and the exported snapshot). */
  psql(): PsqlSession;
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
  pgRestore(sqlFile: string): Promise<void>;
  /** Starts what stopForRestore stopped (vault-init unseals with the restored keys). */
  startAfterRestore(): Promise<void>;
  doctor(): Promise<DoctorResult>;
  /** After a verified restore: drop what was kept for a rollback. */
  cleanUp?(): Promise<void>;
}
