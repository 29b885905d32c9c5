/**
 * The file audit device, and its rotation. Vault HMACs every secret value in it, so it is safe to keep and to
 * read.
 *
 * Rotation without a restart and without a lost line: Vault's file device reopens its file only on SIGHUP,
 * which cannot cross from this container to Vault's. Instead the device is switched through the API with an
 * overlap: a second device is enabled on the next file, then the first is disabled. Vault logs every request
 * to every enabled device and serves it when at least one succeeds (Vault docs, "Blocked audit devices"), so
 * while both exist each line lands in both files, and at every moment at least one device takes it.
 *
 * The files form a ring of VAULT_AUDIT_KEEP_FILES slots next to VAULT_AUDIT_FILE: `audit.log`, `audit.log.1`,
 * ... A rotation empties the oldest slot (truncate, not delete: in compose the directory belongs to Vault's
 * user, while the files are created with mode 0660 for the group vault-init shares with it) and switches the
 * device to it. The two device paths alternate: `file` and `file-next`.
 */
import fs from 'node:fs/promises';
import { VaultRequestError, type VaultClient } from '@aurora/common';
import type { Change } from './types.js';

/**
 * VAULT_AUDIT_FILE's value that sends the log to Vault's standard output: the container runtime keeps it and
 * rotates it (the kubelet: containerLogMaxSize, containerLogMaxFiles), so there is no ring of files to rotate.
 */
export const AUDIT_STDOUT = 'stdout';

/** The device paths used in turn; `file` is the one earlier versions enabled. */
export const AUDIT_PATHS = ['file', 'file-next'] as const;
/** Group-readable and -writable: vault-init (same group as Vault's user in compose) empties old slots. */
export const AUDIT_FILE_MODE = '0660';

export interface AuditDevice {
  path: string;
  filePath: string;
}

/** Slot `i` of the ring of files based on `base` (VAULT_AUDIT_FILE): the base itself, then base.1, base.2, ... */
export function auditSlot(base: string, i: number): string {
  return i === 0 ? base : `${base}.${i}`;
}

/** Which slot `filePath` is, or -1 when it is not one of ours. */
export function slotOf(base: string, keep: number, filePath: string): number {
  for (let i = 0; i < keep; i++) if (auditSlot(base, i) === filePath) return i;
  return -1;
}

/** Our devices as Vault lists them (at most two: the second only in the middle of a switch). */
export async function ourAuditDevices(client: VaultClient): Promise<AuditDevice[]> {
  const devices = await client.auditDevices();
  const out: AuditDevice[] = [];
  for (const p of AUDIT_PATHS) {
    const d = devices[`${p}/`];
    if (d && d.type === 'file' && d.options?.file_path) out.push({ path: p, filePath: d.options.file_path });
  }
  return out;
}

async function enable(client: VaultClient, devicePath: string, filePath: string): Promise<void> {
  await client.enableAuditDevice(devicePath, 'file', { file_path: filePath, mode: AUDIT_FILE_MODE });
}

/**
 * Enables a device on `filePath` at the free device path, then disables every other device of ours: at each
 * moment at least one device takes every line.
 */
export async function switchAuditDevice(client: VaultClient, filePath: string): Promise<AuditDevice> {
  const current = await ourAuditDevices(client);
  const taken = new Set(current.map((d) => d.path));
  const free = AUDIT_PATHS.find((p) => !taken.has(p));
  let target: AuditDevice;
  if (free) {
    await enable(client, free, filePath);
    target = { path: free, filePath };
  } else {
    // Both exist (a switch was interrupted): keep the one on `filePath` if any, else reuse the older path.
    const keepIt = current.find((d) => d.filePath === filePath);
    if (keepIt) target = keepIt;
    else {
      const other = current[1]!;
      await client.delete(`sys/audit/${other.path}`);
      await enable(client, other.path, filePath);
      target = { path: other.path, filePath };
    }
  }
  for (const d of current) if (d.path !== target.path) await client.delete(`sys/audit/${d.path}`);
  return target;
}

/**
 * Configure step: one of our devices writes into the ring based on `base`. A device already on a slot of the
 * ring is kept (rotation moved it there); anything else is switched to slot 0 with an overlap.
 */
export async function ensureFileAudit(client: VaultClient, base: string, keep = 1, attempt = 1): Promise<Change> {
  const current = await ourAuditDevices(client);
  if (current.length === 1 && slotOf(base, keep, current[0]!.filePath) >= 0) return 'unchanged';
  if (current.length === 2) {
    // An interrupted switch: finish it towards the newer slot, the one the other device was switching to.
    const onRing = current.filter((d) => slotOf(base, keep, d.filePath) >= 0);
    if (onRing.length > 0) {
      await switchAuditDevice(client, onRing[onRing.length - 1]!.filePath);
      return 'updated';
    }
  }
  try {
    await switchAuditDevice(client, base);
  } catch (err) {
    // Another client's enable landed between our read and our write: typically the request of a vault-init
    // killed mid-configure, which Vault finished after the kill. Compare with what is there now, once.
    if (attempt === 1 && err instanceof VaultRequestError && /already registered|path already in use/.test(err.message))
      return ensureFileAudit(client, base, keep, attempt + 1);
    throw err;
  }
  return current.length === 0 ? 'created' : 'updated';
}

export interface Rotation {
  device: AuditDevice;
  /** False when the oldest slot could not be emptied (a file from before rotation, mode 0600): Vault appends. */
  emptied: boolean;
}

/**
 * Rotation: empties the slot after the current one and switches the device to it (`keep` >= 2, so that the
 * slot emptied is never the one being written). A missing slot is left for Vault to create.
 */
export async function rotateAuditFile(client: VaultClient, base: string, keep: number): Promise<Rotation> {
  if (keep < 2) throw new Error(`audit rotation needs at least 2 files, got ${keep}`);
  const current = await ourAuditDevices(client);
  const active = current[current.length - 1];
  const slot = active ? slotOf(base, keep, active.filePath) : -1;
  const next = auditSlot(base, (slot + 1) % keep);
  let emptied = true;
  try {
    await fs.truncate(next, 0);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') emptied = false;
    else if (code !== 'ENOENT') throw err;
  }
  // Vault sets AUDIT_FILE_MODE on the file when it opens it, so the slot can be emptied next time round.
  return { device: await switchAuditDevice(client, next), emptied };
}
