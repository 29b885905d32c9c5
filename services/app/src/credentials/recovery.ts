/**
 * What is left in Vault of a credential whose current version cannot be read, and the `vault` command that
 * gives it back: the facts both `resolve` (its 404 message) and `doctor` (its finding and whether `--repair`
 * may touch it) are built on.
 *
 * KV v2 keeps every version until it is destroyed (https://developer.hashicorp.com/vault/docs/secrets/kv/kv-v2):
 *  - `vault kv delete` is a soft delete: the version's `deletion_time` is set, its data is kept, and
 *    `vault kv undelete -versions=N` gives it back;
 *  - `delete_version_after` (on the mount or the secret) sets `deletion_time` in the future when a version is
 *    written: the version is readable until then, soft-deleted afterwards;
 *  - `vault kv destroy` removes one version's data for good (`destroyed: true`); older versions stay readable
 *    and `vault kv rollback -version=M` writes one of them again as the new current version;
 *  - `vault kv metadata delete` removes every version and the metadata: nothing is left.
 */
import type { KvVersionInfo } from '@aurora/common';

export type SecretCondition =
  /** The current version is readable. */
  | 'live'
  /** The current version is soft-deleted: undelete it. */
  | 'current-deleted'
  /** The current version is destroyed (or pruned), an older one is not: roll back to it. */
  | 'current-destroyed'
  /** Every version is destroyed, or the metadata itself is gone. */
  | 'gone';

export interface SecretState {
  condition: SecretCondition;
  /** The current version, 0 when there is no metadata. */
  current: number;
  /** The version the fix gives back (current-deleted: the current one; current-destroyed: the newest intact one). */
  recoverVersion?: number;
  /** The `vault` CLI command that gives it back (as run in the vault container, or with .native/env sourced). */
  command?: string;
  /** One sentence for a person: what is in Vault, and whether it can come back. Never a value. */
  detail: string;
}

type VersionInfo = KvVersionInfo['versions'][string];

/** A version is soft-deleted once its `deletion_time` has passed; a future one (delete_version_after) is not yet. */
function deleted(v: VersionInfo, now: number): boolean {
  if (!v.deletion_time) return false;
  const at = Date.parse(v.deletion_time);
  return Number.isNaN(at) || at <= now;
}

/** Is the current version readable? */
export function currentVersionLive(meta: KvVersionInfo | undefined, now = Date.now()): boolean {
  return secretState(meta, '', '', now).condition === 'live';
}

/**
 * Classifies `meta` (KV v2 metadata of `<mount>/<path>`; undefined when Vault has none) and builds the fix.
 * `now` is compared with Vault's `deletion_time`s (ms since the epoch; Vault and this process share a clock).
 */
export function secretState(
  meta: KvVersionInfo | undefined,
  mount: string,
  path: string,
  now = Date.now(),
): SecretState {
  const where = `${mount}/${path}`;
  if (!meta) {
    return {
      condition: 'gone',
      current: 0,
      detail: 'no secret in Vault: its metadata and every version were deleted (nothing left to restore)',
    };
  }
  const current = meta.current_version ?? 0;
  const versions = meta.versions ?? {};
  const cv = versions[String(current)];
  if (cv && !cv.destroyed && !deleted(cv, now)) return { condition: 'live', current, detail: 'readable' };
  if (cv && !cv.destroyed) {
    const command = `vault kv undelete -versions=${current} ${where}`;
    return {
      condition: 'current-deleted',
      current,
      recoverVersion: current,
      command,
      detail: `current version ${current} is deleted in Vault (a soft delete, its data is kept): recoverable with \`${command}\``,
    };
  }
  const older = Object.entries(versions)
    .map(([n, v]) => ({ n: Number(n), v }))
    .filter(({ n, v }) => n !== current && !v.destroyed)
    .sort((a, b) => b.n - a.n);
  const intact = older.find(({ v }) => !deleted(v, now)) ?? older[0];
  if (intact) {
    const rollback = `vault kv rollback -version=${intact.n} ${where}`;
    const command = deleted(intact.v, now)
      ? `vault kv undelete -versions=${intact.n} ${where} && ${rollback}`
      : rollback;
    return {
      condition: 'current-destroyed',
      current,
      recoverVersion: intact.n,
      command,
      detail:
        `current version ${current} is destroyed in Vault, version ${intact.n} is intact` +
        `${deleted(intact.v, now) ? ' (soft-deleted)' : ''}: recoverable with \`${command}\``,
    };
  }
  return {
    condition: 'gone',
    current,
    detail: `every version in Vault is destroyed (current version ${current}): nothing left to restore`,
  };
}
