/**
 * backup(): a short, announced pause (stop Vault, copy its file storage, read init.json, pg_dump, start Vault;
 * vault-init's watch loop unseals it again), then one archive. With file storage, stopping Vault is the only
 * way to get a copy consistent with the dump: while it is stopped the app cannot write a secret, so it cannot
 * commit a row whose secret the copy lacks (the app writes Vault first, then the row).
 *
 * restore(): verify the whole archive first (nothing is touched if it is corrupt, truncated, or the
 * passphrase is wrong), refuse to overwrite existing data without confirmation, then stop the stack (all but
 * PostgreSQL), put back Vault's data, init.json and the database, start the stack, check Vault unseals with
 * the restored keys and doctor reports 0 dangling references and 0 orphans.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BackupError, packArchive, verifyArchive, workDir, type Manifest, type Passphrase } from './archive.js';
import type { DoctorResult, StackTarget } from './targets.js';
import { readInitMaterial, waitFor, type InitMaterial } from './vault-api.js';

export type Log = (msg: string) => void;

/** Vault sealed and nothing watching it: unseal with the init material. Then wait until it is unsealed. */
async function ensureUnsealed(target: StackTarget, material: InitMaterial, timeoutMs: number, log: Log): Promise<void> {
  await waitFor('Vault to answer', async () => (await target.sealStatus()) && true, timeoutMs);
  if (!(await target.watcherRunning())) {
    if (!target.unseal) throw new BackupError(`Vault is sealed and vault-init is not running in the ${target.name} stack: start it (docker start vault-init) and it unseals Vault.`);
    const s = await target.sealStatus();
    if (s.sealed) {
      log('no vault-init is running: unsealing Vault with the keys of init.json');
      await target.unseal(material);
    }
  }
  await waitFor('Vault to be unsealed (vault-init unseals it)', async () => {
    const s = await target.sealStatus();
    return s.initialized && !s.sealed ? true : undefined;
  }, timeoutMs);
}

export interface BackupOptions {
  outDir: string;
  passphrase?: Passphrase;
  log?: Log;
  unsealTimeoutMs?: number;
}

export interface BackupResult { file: string; manifest: Manifest; pauseMs: number }

export async function backup(target: StackTarget, options: BackupOptions): Promise<BackupResult> {
  const log = options.log ?? (() => undefined);
  const timeout = options.unsealTimeoutMs ?? 90_000;
  const before = await target.sealStatus().catch((err: Error) => {
    throw new BackupError(`Vault of the ${target.name} stack does not answer (${err.message}): start the stack first.`);
  });
  if (!before.initialized) throw new BackupError(`Vault of the ${target.name} stack is not initialized: there is nothing to back up.`);
  // Read before the pause: a missing or corrupt init.json stops the backup before anything is paused.
  const initBytes = await target.readInit();
  const material = readInitMaterial(initBytes.toString('utf8'), 'init.json');

  const staging = workDir(options.outDir, 'backup');
  try {
    fs.writeFileSync(path.join(staging, 'init.json'), initBytes, { mode: 0o600 });
    log(`PAUSE: stopping Vault of the ${target.name} stack for a consistent copy (secret reads and writes fail until it is unsealed again)`);
    const t0 = Date.now();
    let stoppedMs = 0;
    await target.stopVault();
    try {
      await target.copyVaultData(path.join(staging, 'vault-data.tar'));
      await target.pgDump(path.join(staging, 'postgres.sql'));
    } finally {
      stoppedMs = Date.now() - t0;
      log(`starting Vault again (it was stopped for ${(stoppedMs / 1000).toFixed(1)} s)`);
      await target.startVault();
      await ensureUnsealed(target, material, timeout, log);
    }
    const pauseMs = Date.now() - t0;
    log(`PAUSE over: Vault is unsealed again, ${(pauseMs / 1000).toFixed(1)} s after it was stopped (stopped ${(stoppedMs / 1000).toFixed(1)} s, restart + unseal ${((pauseMs - stoppedMs) / 1000).toFixed(1)} s)`);
    const { file, manifest } = packArchive(staging, options.outDir, {
      created_at: new Date(t0).toISOString(),
      source: target.kind,
      vault_version: before.version,
      pause_ms: pauseMs,
    }, options.passphrase);
    return { file, manifest, pauseMs };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
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

export interface RestoreResult { manifest: Manifest; doctor: DoctorResult; downMs: number }

export async function restore(target: StackTarget, file: string, options: RestoreOptions): Promise<RestoreResult> {
  const log = options.log ?? (() => undefined);
  const timeout = options.unsealTimeoutMs ?? 120_000;
  const verified = verifyArchive(file, options.scratchDir, options.passphrase);
  try {
    const m = verified.manifest;
    log(`archive verified: ${path.basename(file)} (${verified.encrypted ? 'encrypted' : 'not encrypted'}), taken ${m.created_at} from the ${m.source} stack, Vault ${m.vault_version ?? '?'}; every part matches its sha256`);
    const running = await target.running();
    if ((running.length > 0 || (await target.hasData())) && !options.confirm) {
      throw new BackupError(
        `Refusing to overwrite the ${target.name} stack's data${running.length ? ` (running: ${running.join(', ')})` : ''}: ` +
        'a restore replaces every secret, the unseal keys and the database with the archive\'s. ' +
        'Rerun with CONFIRM=1 (make restore FILE=... CONFIRM=1) or --yes. Nothing was changed.', 4);
    }
    const material = readInitMaterial(fs.readFileSync(verified.part('init.json'), 'utf8'), 'the archive\'s init.json');
    const t0 = Date.now();
    log(`stopping the ${target.name} stack (all but PostgreSQL)`);
    await target.stopForRestore();
    try {
      log('restoring Vault\'s data, init.json and the database');
      await target.putVaultData(verified.part('vault-data.tar'));
      await target.putInit(verified.part('init.json'));
      await target.pgRestore(verified.part('postgres.sql'));
      log('starting the stack');
      await target.startAfterRestore();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new BackupError(`restore failed after the stack was stopped: ${why}. The stack may be stopped and partly restored; ` +
        'the archive is fine: fix the cause and rerun the restore with confirmation' +
        (target.kind === 'compose' ? '.' : ' (the previous Vault data, if any, is kept next to it as data.pre-restore).'));
    }
    await ensureUnsealed(target, material, timeout, log);
    log('Vault is unsealed with the restored init material');
    const doctor = await target.doctor();
    const downMs = Date.now() - t0;
    if (doctor.dangling !== 0 || doctor.orphans !== 0) {
      throw new BackupError(`restored, but doctor reports ${doctor.dangling} dangling reference(s) and ${doctor.orphans} orphan(s): the archive's parts disagree. Inspect with make doctor.`, 3);
    }
    log(`doctor: 0 dangling references, 0 orphans; the stack was down ${(downMs / 1000).toFixed(1)} s`);
    await target.cleanUp?.();
    return { manifest: m, doctor, downMs };
  } finally {
    fs.rmSync(verified.dir, { recursive: true, force: true });
  }
}
