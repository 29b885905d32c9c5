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
 * device to it. The device paths alternate: `file` and `file-next`, or a spare (below).
 *
 * Unlisted devices: when the client of an enable request goes away mid-request (vault-init killed), Vault 1.21
 * can register the device in its audit broker and write it to its stored audit table, then fail on the local
 * table ("context canceled") and leave its in-memory table without it. Measured against Vault 1.21.4, cutting
 * enables off a few milliseconds in:
 *   - sys/audit does not list the device and cannot disable it; every enable at its path is refused with
 *     "backend already registered";
 *   - it writes its own copy of every audit line to its file, or for a few seconds fails to (its salt is not
 *     stored yet), and while it is the only device Vault then answers 500 to every audited request;
 *   - Vault's next unseal (a restart, or seal and unseal) drops it. It comes back, listed, when the stored
 *     table kept it and no audit device was enabled or disabled since (sometimes, not always): an ordinary
 *     device then, which configure reconciles like any other.
 * Cut-off disables, secrets-engine and auth-method enables leave nothing of the kind. So a path Vault refuses
 * that way is skipped for the next spare, and the caller is told, to warn.
 */
import fs from 'node:fs/promises';
import { VaultRequestError, type VaultClient } from '@aurora/common';
import { critical } from '../critical.js';
import { VaultObjectConflictError } from '../errors.js';
import type { Change } from './types.js';

/**
 * VAULT_AUDIT_FILE's value that sends the log to Vault's standard output: the container runtime keeps it and
 * rotates it (the kubelet: containerLogMaxSize, containerLogMaxFiles), so there is no ring of files to rotate.
 */
export const AUDIT_STDOUT = 'stdout';

/**
 * The device paths, in the order they are taken: `file` (the one earlier versions enabled) and `file-next`
 * alternate; the spares stand in for paths held by an unlisted device. Each spare costs one interrupted enable
 * within one Vault run, so four are plenty.
 */
export const AUDIT_PATHS = [
  'file',
  'file-next',
  'file-spare-1',
  'file-spare-2',
  'file-spare-3',
  'file-spare-4',
] as const;
/** Group-readable and -writable: vault-init (same group as Vault's user in compose) empties old slots. */
export const AUDIT_FILE_MODE = '0660';

export interface AuditDevice {
  path: string;
  filePath: string;
}

/** Where a switch ended, and the paths Vault refused on the way because an unlisted device holds them. */
export interface AuditSwitch {
  device: AuditDevice;
  unlistedPaths: string[];
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

/** Our devices as Vault lists them (normally one; two in the middle of a switch). */
export async function ourAuditDevices(client: VaultClient): Promise<AuditDevice[]> {
  const devices = await client.auditDevices();
  const out: AuditDevice[] = [];
  for (const p of AUDIT_PATHS) {
    const d = devices[`${p}/`];
    if (d && d.type === 'file' && d.options?.file_path) out.push({ path: p, filePath: d.options.file_path });
  }
  return out;
}

/**
 * Vault's refusal of an enable at a path its audit broker holds while its audit table does not: the unlisted
 * device above. A path its table holds is refused with "path already in use" instead.
 */
export function isUnlistedDeviceRefusal(err: unknown): boolean {
  return err instanceof VaultRequestError && /backend already registered/.test(err.message);
}

/**
 * A line for the log about the paths Vault refused: what holds them, what it means, what clears it. Empty
 * input, empty output.
 */
export function unlistedDevicesWarning(unlistedPaths: readonly string[], usedPath: string): string | undefined {
  if (unlistedPaths.length === 0) return undefined;
  const paths = unlistedPaths.map((p) => `${p}/`).join(', ');
  return (
    `Vault holds an audit device at ${paths} that sys/audit does not list (an earlier enable request was cut off ` +
    `mid-way, e.g. vault-init was killed): it cannot be disabled through the API and keeps writing its own copy of ` +
    `every audit line to its file until Vault restarts (or is sealed and unsealed), which drops it; should Vault ` +
    `list it again then, vault-init disables it. The audit log now goes through ${usedPath}/.`
  );
}

/** Enables a device on `filePath` at the first path of AUDIT_PATHS that is neither taken nor refused. */
async function enableAtFreePath(
  client: VaultClient,
  taken: ReadonlySet<string>,
  filePath: string,
): Promise<AuditSwitch> {
  const unlistedPaths: string[] = [];
  for (const p of AUDIT_PATHS) {
    if (taken.has(p)) continue;
    try {
      await client.enableAuditDevice(p, 'file', { file_path: filePath, mode: AUDIT_FILE_MODE });
      return { device: { path: p, filePath }, unlistedPaths };
    } catch (err) {
      if (!isUnlistedDeviceRefusal(err)) throw err;
      unlistedPaths.push(p);
    }
  }
  throw new VaultObjectConflictError(
    `cannot enable the file audit device on ${filePath}: Vault refuses every device path vault-init uses ` +
      `(${AUDIT_PATHS.map((p) => `${p}/`).join(', ')}); those it does not list (${unlistedPaths.map((p) => `${p}/`).join(', ') || 'none'}) ` +
      'are held by devices left by enable requests that were cut off mid-way. Restart Vault (or seal and unseal it) to ' +
      'drop them, then restart vault-init.',
  );
}

/**
 * Brings our devices to exactly one, on `filePath`: keeps a device already on it, else enables one at a free
 * path, then disables every other device of ours. At each moment at least one device takes every line.
 */
export function switchAuditDevice(client: VaultClient, filePath: string): Promise<AuditSwitch> {
  // A stop waits for a switch in flight (critical.ts): cut mid-enable, it can leave a device Vault does not list.
  return critical(`the audit device switch to ${filePath}`, () => switchNow(client, filePath));
}

/** switchAuditDevice's work, for callers that already run it as critical work. */
async function switchNow(client: VaultClient, filePath: string): Promise<AuditSwitch> {
  const current = await ourAuditDevices(client);
  const kept = current.find((d) => d.filePath === filePath);
  const result = kept
    ? { device: kept, unlistedPaths: [] }
    : await enableAtFreePath(client, new Set(current.map((d) => d.path)), filePath);
  for (const d of current) if (d.path !== result.device.path) await client.delete(`sys/audit/${d.path}`);
  return result;
}

/**
 * Of our devices, the one a switch interrupted midway was heading to: on the ring, on the slot after the
 * other's. With two slots each is after the other, and either is a correct end. Undefined when none is on the
 * ring.
 */
export function switchTarget(base: string, keep: number, devices: readonly AuditDevice[]): AuditDevice | undefined {
  const onRing = devices.filter((d) => slotOf(base, keep, d.filePath) >= 0);
  const after = (a: AuditDevice, b: AuditDevice) =>
    (slotOf(base, keep, a.filePath) + 1) % keep === slotOf(base, keep, b.filePath);
  return onRing.find((d) => onRing.some((o) => o !== d && after(o, d))) ?? onRing[onRing.length - 1];
}

export interface AuditSetup {
  change: Change;
  device: AuditDevice;
  unlistedPaths: string[];
}

/**
 * Configure step: one of our devices writes into the ring based on `base`. A device already on a slot of the
 * ring is kept (rotation moved it there); an interrupted switch is finished; anything else is switched to slot
 * 0 with an overlap.
 */
export async function ensureFileAudit(client: VaultClient, base: string, keep = 1, attempt = 1): Promise<AuditSetup> {
  const current = await ourAuditDevices(client);
  if (current.length === 1 && slotOf(base, keep, current[0]!.filePath) >= 0)
    return { change: 'unchanged', device: current[0]!, unlistedPaths: [] };
  try {
    const target = current.length > 1 ? switchTarget(base, keep, current) : undefined;
    const done = await switchAuditDevice(client, target?.filePath ?? base);
    return { change: current.length === 0 ? 'created' : 'updated', ...done };
  } catch (err) {
    // Another client's enable landed between our read and our write: typically the request of a vault-init
    // killed mid-configure, which Vault finished after the kill. Compare with what is there now, once.
    if (attempt === 1 && err instanceof VaultRequestError && /path already in use/.test(err.message))
      return ensureFileAudit(client, base, keep, attempt + 1);
    throw err;
  }
}

export interface Rotation extends AuditSwitch {
  /** False when the oldest slot could not be emptied (a file from before rotation, mode 0600): Vault appends. */
  emptied: boolean;
}

/**
 * Rotation: empties the slot after the current one and switches the device to it (`keep` >= 2, so that the
 * slot emptied is never the one being written). A missing slot is left for Vault to create.
 */
export async function rotateAuditFile(client: VaultClient, base: string, keep: number): Promise<Rotation> {
  if (keep < 2) throw new Error(`audit rotation needs at least 2 files, got ${keep}`);
  // One unit for a stop (critical.ts): a slot emptied must be switched to, or its lines are gone for nothing.
  return critical('the audit log rotation', () => rotateNow(client, base, keep));
}

async function rotateNow(client: VaultClient, base: string, keep: number): Promise<Rotation> {
  const current = await ourAuditDevices(client);
  const active = switchTarget(base, keep, current) ?? current[current.length - 1];
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
  return { ...(await switchNow(client, next)), emptied };
}
