/**
 * backup(), by Vault's storage (sys/seal-status storage_type):
 *  - file (make prod-local, make native): a short, announced pause (stop Vault, copy its file storage, read
 *    init.json, pg_dump, start Vault; vault-init's watch loop unseals it again), then one archive. Stopping
 *    Vault is the only way to get a file copy consistent with the dump: while it is stopped the app cannot
 *    write a secret, so it cannot commit a row whose secret the copy lacks (the app writes Vault first, then
 *    the row).
 *  - raft (make prod-local-ha): online. `vault operator raft snapshot save` while Vault keeps serving; the
 *    snapshot and the dump are cut at the same instant through the app's write barrier (write-barrier.ts),
 *    for which credential writes wait a few milliseconds. Nothing stops, nothing is unsealed again.
 *
 * restore(): verify the whole archive first (nothing is touched if it is corrupt, truncated, or the
 * passphrase is wrong), refuse to overwrite existing data without confirmation, then stop the stack (all but
 * PostgreSQL), put back Vault's data, init.json and the database, start the stack, check Vault unseals with
 * the restored keys and doctor reports 0 dangling references and 0 orphans.
 *
 * PostgreSQL, on a stack with Vault's database secrets engine, is reached as a user of the maintenance role,
 * leased from the stack's running Vault with its operator token and revoked as soon as the dump is taken or
 * loaded (database-login.ts): no stored password. A restore loads the dump while the stack's own Vault still
 * runs (so its lease can be revoked), then puts Vault's data back. The restored Vault's copy of the database
 * connection holds the superuser password of the day of the backup, so the restore gives the superuser a new
 * password through the stack's privileged local path and writes it into the bootstrap file: vault-init hands it
 * to the restored Vault at start and has Vault rotate it (rotate-root), and from then on again only Vault knows
 * it. Rotating with the restored Vault alone cannot work: its password is stale whenever the database's was
 * rotated since the backup, or the stack is a new one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { VaultSealedError, VaultUnreachableError, stackCommands } from '@aurora/common';
import {
  BackupError,
  packArchive,
  VAULT_PART,
  verifyArchive,
  workDir,
  type Manifest,
  type Passphrase,
  type VerifiedArchive,
} from './archive.js';
import { leaseMaintenanceUser, newSuperuserPassword, type MaintenanceLease } from './database-login.js';
import type { DoctorResult } from './doctor-report.js';
import { raftSealProgress } from './raft-seal-progress.js';
import type { StackTarget } from './stack-target.js';
import { consistentCut } from './write-barrier.js';
import {
  readInitMaterial,
  storageOf,
  opsClient,
  unsealWith,
  waitFor,
  withRootToken,
  type InitFileKeys,
  type SealStatus,
} from './vault-api.js';

export type Log = (msg: string) => void;

/** Vault sealed and nothing watching it: unseal with the init material. Then wait until it is unsealed. */
async function ensureUnsealed(target: StackTarget, material: InitFileKeys, timeoutMs: number, log: Log): Promise<void> {
  await waitFor('Vault to answer', async () => (await target.sealStatus()) && true, timeoutMs);
  if (!(await target.watcherRunning())) {
    if (!target.unseal)
      throw new BackupError(
        `Vault is sealed and vault-init is not running in the ${target.name} stack: start it (docker start vault-init) and it unseals Vault.`,
      );
    const s = await target.sealStatus();
    if (s.sealed) {
      log('no vault-init is running: unsealing Vault with the keys of init.json');
      await target.unseal(material);
    }
  }
  await waitFor(
    'Vault to be unsealed (vault-init unseals it)',
    async () => {
      const s = await target.sealStatus();
      return s.initialized && !s.sealed ? true : undefined;
    },
    timeoutMs,
  );
}

export interface BackupOptions {
  outDir: string;
  passphrase?: Passphrase;
  log?: Log;
  unsealTimeoutMs?: number;
}

export interface BackupResult {
  file: string;
  manifest: Manifest;
  /** File storage: how long Vault was unavailable (stopped, then unsealed again). Raft: 0. */
  pauseMs: number;
  /** Raft storage: how long credential writes waited for the cut. */
  writesHeldMs?: number;
}

export async function backup(target: StackTarget, options: BackupOptions): Promise<BackupResult> {
  const log = options.log ?? (() => undefined);
  const timeout = options.unsealTimeoutMs ?? 90_000;
  const before = await target.sealStatus().catch((err: Error) => {
    throw new BackupError(`Vault of the ${target.name} stack does not answer (${err.message}): start the stack first.`);
  });
  if (!before.initialized)
    throw new BackupError(`Vault of the ${target.name} stack is not initialized: there is nothing to back up.`);
  // Read before the pause: a missing or corrupt init.json stops the backup before anything is paused.
  const initBytes = await target.readInit();
  const material = readInitMaterial(initBytes.toString('utf8'), 'init.json');

  const staging = workDir(options.outDir, 'backup');
  try {
    fs.writeFileSync(path.join(staging, 'init.json'), initBytes, { mode: 0o600 });
    if (storageOf(before) === 'raft') return await backupOnline(target, before, material, staging, options, log);
    log(
      `PAUSE: stopping Vault of the ${target.name} stack for a consistent copy (secret reads and writes fail until it is unsealed again)`,
    );
    // Leased before the pause: the dump runs while Vault is stopped.
    const lease = await maintenanceLease(target, log);
    const t0 = Date.now();
    let stoppedMs = 0;
    try {
      await target.stopVault();
      try {
        await target.copyVaultData(path.join(staging, 'vault-data.tar'));
        await target.pgDump(path.join(staging, 'postgres.sql'), lease?.login);
      } finally {
        stoppedMs = Date.now() - t0;
        log(`starting Vault again (it was stopped for ${(stoppedMs / 1000).toFixed(1)} s)`);
        await target.startVault();
        await ensureUnsealed(target, material, timeout, log);
      }
    } finally {
      await lease?.revoke();
    }
    const pauseMs = Date.now() - t0;
    log(
      `PAUSE over: Vault is unsealed again, ${(pauseMs / 1000).toFixed(1)} s after it was stopped (stopped ${(stoppedMs / 1000).toFixed(1)} s, restart + unseal ${((pauseMs - stoppedMs) / 1000).toFixed(1)} s)`,
    );
    const { file, manifest } = packArchive(
      staging,
      options.outDir,
      {
        created_at: new Date(t0).toISOString(),
        source: target.kind,
        storage: 'file',
        vault_version: before.version,
        pause_ms: pauseMs,
      },
      options.passphrase,
    );
    return { file, manifest, pauseMs };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** Raft storage: the snapshot and the dump, cut together under the write barrier; Vault never stops. */
async function backupOnline(
  target: StackTarget,
  before: SealStatus,
  material: InitFileKeys,
  staging: string,
  options: BackupOptions,
  log: Log,
): Promise<BackupResult> {
  if (before.sealed)
    throw new BackupError(
      `Vault of the ${target.name} stack is sealed: a Raft snapshot needs an unsealed cluster (vault-init unseals it; see ${stackCommands(target.kind === 'native' ? 'native' : 'compose').logs('vault-init')}).`,
    );
  log(`online backup: Raft storage, Vault keeps serving (vault operator raft snapshot save; no pause)`);
  const t0 = Date.now();
  const snapFile = path.join(staging, VAULT_PART.raft);
  const lease = await maintenanceLease(target, log);
  let heldMs: number;
  try {
    const cut = await withRootToken(
      target.vaultApiAddr(),
      material,
      (token) => consistentCut(target.psql(lease?.login), () => target.raftSnapshotSave(snapFile, token), { log }),
      log,
    );
    try {
      await target.pgDump(path.join(staging, 'postgres.sql'), lease?.login, cut.snapshot);
    } finally {
      await cut.finish();
    }
    heldMs = cut.heldMs;
  } finally {
    await lease?.revoke();
  }
  const { file, manifest } = packArchive(
    staging,
    options.outDir,
    {
      created_at: new Date(t0).toISOString(),
      source: target.kind,
      storage: 'raft',
      vault_version: before.version,
      writes_held_ms: heldMs,
    },
    options.passphrase,
  );
  return { file, manifest, pauseMs: 0, writesHeldMs: heldMs };
}

export interface RestoreOptions {
  /** CONFIRM=1 / --yes: overwrite existing data. */
  confirm: boolean;
  passphrase?: Passphrase;
  /** Where to unpack and check the archive (a private temp dir is made inside). */
  scratchDir: string;
  log?: Log;
  unsealTimeoutMs?: number;
}

export interface RestoreResult {
  manifest: Manifest;
  doctor: DoctorResult;
  downMs: number;
}

export async function restore(target: StackTarget, file: string, options: RestoreOptions): Promise<RestoreResult> {
  const log = options.log ?? (() => undefined);
  const timeout = options.unsealTimeoutMs ?? 120_000;
  const verified = verifyArchive(file, options.scratchDir, options.passphrase);
  try {
    const m = verified.manifest;
    log(
      `archive verified: ${path.basename(file)} (${verified.encrypted ? 'encrypted' : 'not encrypted'}), taken ${m.created_at} from the ${m.source} stack (${verified.storage} storage), Vault ${m.vault_version ?? '?'}; every part matches its sha256`,
    );
    const status = await target.sealStatus().catch(() => undefined);
    const targetStorage = status?.initialized ? storageOf(status) : undefined;
    if (targetStorage && targetStorage !== verified.storage) {
      throw new BackupError(
        verified.storage === 'raft'
          ? `Refusing: this archive holds a Raft snapshot (taken from the HA profile, make prod-local-ha), and Vault of the ${target.name} stack uses file storage. Restore it into the HA stack. Nothing was changed.`
          : `Refusing: this archive holds file storage (make prod-local / make native), and Vault of the ${target.name} stack uses Raft (the HA profile). Restore it into a single-node stack. Nothing was changed.`,
        2,
      );
    }
    const running = await target.running();
    if ((running.length > 0 || (await target.hasData())) && !options.confirm) {
      throw new BackupError(
        `Refusing to overwrite the ${target.name} stack's data${running.length ? ` (running: ${running.join(', ')})` : ''}: ` +
          "a restore replaces every secret, the unseal keys and the database with the archive's. " +
          'Rerun with CONFIRM=1 (make restore FILE=... CONFIRM=1) or --yes. Nothing was changed.',
        4,
      );
    }
    const material = readInitMaterial(fs.readFileSync(verified.part('init.json'), 'utf8'), "the archive's init.json");
    // Raft: the running cluster takes the snapshot; checked, and its own keys read, before anything stops.
    const current = verified.storage === 'raft' ? await raftTargetKeys(target, status) : undefined;
    const t0 = Date.now();
    try {
      let engine: boolean;
      if (current) {
        engine = await restoreRaftParts(target, verified, current, log);
      } else {
        log(
          `stopping the app, the agent and vault-init of the ${target.name} stack (Vault and PostgreSQL keep running)`,
        );
        await target.stopForRestore({ keepVault: true });
        engine = await restoreDatabase(target, verified, log);
        log("stopping Vault; restoring Vault's data and init.json");
        await target.stopVault();
        await target.putVaultData(verified.part(VAULT_PART.file));
        await target.putInit(verified.part('init.json'));
      }
      if (engine) await handOverNewAdminPassword(target, log);
      log('starting the stack');
      await target.startAfterRestore();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new BackupError(
        `restore failed after the stack was stopped: ${why}. The stack may be stopped and partly restored; ` +
          'the archive is fine: fix the cause and rerun the restore with confirmation' +
          (target.kind === 'compose' || verified.storage === 'raft'
            ? '.'
            : ' (the previous Vault data, if any, is kept next to it as data.pre-restore).'),
      );
    }
    await ensureUnsealed(target, material, timeout, log);
    log('Vault is unsealed with the restored init material');
    // doctor() serves `make status` too: what it could not check is said here as part of the restore.
    const doctor = await target.doctor().catch((err: unknown) => {
      if (err instanceof BackupError) throw new BackupError(`restored and unsealed, but ${err.message}`, err.exitCode);
      throw err;
    });
    const downMs = Date.now() - t0;
    if (doctor.dangling !== 0 || doctor.orphans !== 0) {
      throw new BackupError(
        `restored, but doctor reports ${doctor.dangling} dangling reference(s) and ${doctor.orphans} orphan(s): the archive's parts disagree. Inspect with make doctor.`,
        3,
      );
    }
    if (doctor.damaged !== 0) {
      // The copy holds what a crash left in Vault's storage before the backup (docs/operations.md, "doctor says
      // damaged").
      throw new BackupError(
        `restored, but doctor reports ${doctor.damaged} damaged entr${doctor.damaged === 1 ? 'y' : 'ies'} in Vault's storage, copied with it: make doctor names them and how to remove them (docs/operations.md, "doctor says damaged").`,
        3,
      );
    }
    log(`doctor: 0 dangling references, 0 orphans, 0 damaged; the stack was down ${(downMs / 1000).toFixed(1)} s`);
    await target.cleanUp?.();
    return { manifest: m, doctor, downMs };
  } finally {
    fs.rmSync(verified.dir, { recursive: true, force: true });
  }
}

const MARKER = 'cubbyhole/aurora-restore-marker';

/** A Raft snapshot goes into a running, unsealed cluster, with a root token of that cluster: its keys. */
async function raftTargetKeys(target: StackTarget, status: SealStatus | undefined): Promise<InitFileKeys> {
  if (!status)
    throw new BackupError(
      `Vault of the ${target.name} stack does not answer: a Raft snapshot is restored into a running cluster. Start it (make prod-local-ha; a fresh one is fine), then rerun. Nothing was changed.`,
      2,
    );
  if (!status.initialized || status.sealed)
    throw new BackupError(
      `Vault of the ${target.name} stack is ${status.initialized ? 'sealed' : 'not initialized'}: a Raft snapshot is restored into an unsealed cluster (vault-init does that; see its logs), then rerun. Nothing was changed.`,
      2,
    );
  // A -force restore is applied once every node has sealed (waitSnapshotApplied): with no node to ask that
  // cannot be told, so refuse now rather than after the snapshot went in.
  const nodes = await target.raftNodeSealStatuses();
  if (nodes.length === 0)
    throw new BackupError(
      `No Raft node of the ${target.name} stack is known to ask (compose: no vault-1..3 container of the HA profile): a restore must see every node seal. Restore into the HA stack (make prod-local-ha), then rerun. Nothing was changed.`,
      2,
    );
  // For the same reason every node must be up and unsealed now: a node that is down never applies the snapshot
  // (the restore would wait for it, after the data went in), and one that is sealed already proves nothing.
  const notServing = nodes.filter((n) => n.sealed !== false);
  if (notServing.length > 0)
    throw new BackupError(
      `${notServing.map((n) => `${n.node} ${n.sealed === undefined ? 'does not answer' : 'is sealed'}`).join(', ')}: a Raft snapshot is restored into a cluster whose every node is up and unsealed, because each node must be seen to apply it. Start it (compose: docker start <node>, or make prod-local-ha) and wait until vault-init has unsealed it (make status), then rerun. Nothing was changed.`,
      2,
    );
  return readInitMaterial((await target.readInit()).toString('utf8'), `the ${target.name} stack's init.json`);
}

/**
 * Waits until the snapshot is applied on every node. Same cluster (no -force): the marker is gone, or the token
 * with it, as the active node answers (reads are forwarded to it; while it applies the snapshot it holds its
 * state lock and requests wait). Another cluster's snapshot (-force): applied means every node sealed itself,
 * because only then has each one dropped the old keyring. The nodes do not seal together: the followers seal
 * first and the active node seconds later, and a sealed answer from one node says nothing about the others.
 * Starting vault-init in that window lets it see an unsealed active node that still serves the old cluster.
 * A sealed answer without -force (not expected) is held to the same rule. Prints which nodes it waits for.
 */
async function waitSnapshotApplied(
  target: StackTarget,
  addr: string,
  token: string,
  forced: boolean,
  log: Log,
): Promise<void> {
  let last = '';
  let said = '';
  await waitFor(
    'Vault to apply the snapshot on every node',
    async () => {
      if (!forced) {
        try {
          await opsClient(addr, token, 5000).read(MARKER);
          last = 'the marker is still there';
          return undefined;
        } catch (err) {
          last = (err as Error).message;
          // 404: the marker is gone; 403: the token is gone with the old storage. Sealed or no answer: ask every node.
          if (!(err instanceof VaultUnreachableError) && !(err instanceof VaultSealedError)) return true;
        }
      }
      const progress = raftSealProgress(await target.raftNodeSealStatuses());
      if (progress.applied) return true;
      last = progress.waiting;
      if (last !== said) log((said = last));
      return undefined;
    },
    120_000,
    250,
  ).catch((err: Error) => {
    throw new BackupError(`${err.message}; last answer: ${last}`);
  });
}

/**
 * Raft: the running cluster takes the snapshot (`vault operator raft snapshot restore`; with -force when it
 * comes from another cluster, i.e. other unseal keys: the cluster then seals and uses the archive's keys).
 * Vault answers before it applies the snapshot, so a marker written just before (in the restoring token's
 * cubbyhole, which the snapshot cannot hold) tells when it is applied: it is gone, or the token with it; with
 * -force, every node sealed itself (waitSnapshotApplied). Then init.json and the database go back, with
 * vault-init, the agent and the app stopped (Vault keeps running: the snapshot needs an unsealed cluster).
 */
async function restoreRaftParts(
  target: StackTarget,
  verified: VerifiedArchive,
  current: InitFileKeys,
  log: Log,
): Promise<boolean> {
  const addr = target.vaultApiAddr();
  log(`stopping the app, the agent and vault-init of the ${target.name} stack (Vault keeps running)`);
  await target.stopForRestore({ keepVault: true });
  // Before the snapshot: the user is leased from, and revoked by, the cluster that is running now.
  const engine = await restoreDatabase(target, verified, log);
  await withRootToken(
    addr,
    current,
    async (token) => {
      await opsClient(addr, token).write(MARKER, { at: new Date().toISOString() });
      const snap = verified.part(VAULT_PART.raft);
      let forced = false;
      try {
        await target.raftSnapshotRestore(snap, token, false);
        log('vault operator raft snapshot restore: accepted (the snapshot is of this cluster: same unseal keys)');
      } catch (err) {
        if (!/different set of unseal keys|snapshot-force/.test((err as Error).message)) throw err;
        log(
          "the snapshot is of another cluster (other unseal keys): restoring with -force; the cluster seals and takes the archive's keys",
        );
        await target.raftSnapshotRestore(snap, token, true);
        forced = true;
      }
      await waitSnapshotApplied(target, addr, token, forced, log);
    },
    log,
  );
  log('snapshot applied; restoring init.json');
  await target.putInit(verified.part('init.json'));
  return engine;
}

/**
 * A maintenance user of the stack's running Vault (undefined: a stack without the database engine, whose
 * PostgreSQL login is the target's own). Vault must answer unsealed.
 */
async function maintenanceLease(target: StackTarget, log: Log): Promise<MaintenanceLease | undefined> {
  const lease = await leaseMaintenanceUser(target.vaultApiAddr(), await target.operatorToken());
  if (lease) log(`PostgreSQL: as ${lease.login.username}, a maintenance user leased from Vault (revoked after use)`);
  return lease;
}

/**
 * Loads the archive's dump through the stack's running Vault (and revokes the user at once, which the restored
 * Vault could not); whether the stack has the database engine.
 */
async function restoreDatabase(target: StackTarget, verified: VerifiedArchive, log: Log): Promise<boolean> {
  const token = await target.operatorToken();
  if (token) {
    // The lease needs the stack's Vault unsealed; vault-init, which would unseal it, is stopped now.
    const status = await target.sealStatus().catch(() => undefined);
    if (!status?.initialized || status.sealed) {
      if (!status) await target.startVault();
      await waitFor('Vault to answer', async () => (await target.sealStatus()) && true, 60_000);
      if ((await target.sealStatus()).sealed) {
        const own = readInitMaterial(
          (await target.readInit()).toString('utf8'),
          `the ${target.name} stack's init.json`,
        );
        await unsealWith(target.vaultApiAddr(), own);
      }
    }
  }
  const lease = await leaseMaintenanceUser(target.vaultApiAddr(), token);
  if (lease) log(`PostgreSQL: as ${lease.login.username}, a maintenance user leased from Vault (revoked after use)`);
  try {
    log('restoring the database');
    await target.pgRestore(verified.part('postgres.sql'), lease?.login);
  } finally {
    await lease?.revoke();
  }
  return lease !== undefined;
}

/** The superuser gets a new password, which vault-init hands to the restored Vault and has it rotate. */
async function handOverNewAdminPassword(target: StackTarget, log: Log): Promise<void> {
  if (!target.resetDatabaseAdmin) return;
  log(
    "giving PostgreSQL's superuser a new password for vault-init to hand to the restored Vault, which rotates it at once",
  );
  await target.resetDatabaseAdmin(newSuperuserPassword());
}
