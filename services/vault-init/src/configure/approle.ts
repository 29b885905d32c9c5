/**
 * AppRole: the auth method, one role per consumer (app, agent), and each role's role_id/secret_id in files
 * only that consumer mounts. A secret_id that still works is kept, so a rerun does not log the app out.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { VaultNotFoundError, VaultRequestError, registerSecret, type VaultClient } from '@aurora/common';
import { FilesystemError, fsReason } from '../errors.js';
import { ensureDir, readIfExists, writeFileAtomic } from '../fs-atomic.js';
import { ensureAuthMethod } from './auth-method.js';
import type { Change } from './types.js';

export const APPROLE_MOUNT = 'approle';

/** Token lifetimes of the roles vault-init creates (VAULT_APPROLE_TOKEN_TTL, VAULT_APPROLE_TOKEN_MAX_TTL). */
export interface RoleTokenTtls {
  /** Seconds a login's token lives before it must be renewed. */
  tokenTtl: number;
  /** Seconds after which renewing stops helping and the consumer logs in again. */
  tokenMaxTtl: number;
}

/** Defaults: tokens of 1 h, renewable up to 24 h. */
export const DEFAULT_ROLE_TTLS: Readonly<RoleTokenTtls> = Object.freeze({ tokenTtl: 3600, tokenMaxTtl: 86_400 });

/** The role's settings; secret_ids do not expire (the file is the credential, vault-init replaces it). */
export function roleSettings(ttls: RoleTokenTtls = DEFAULT_ROLE_TTLS) {
  return Object.freeze({
    secret_id_ttl: 0,
    secret_id_num_uses: 0,
    token_ttl: ttls.tokenTtl,
    token_max_ttl: ttls.tokenMaxTtl,
    bind_secret_id: true,
  });
}

export async function ensureApproleAuth(client: VaultClient): Promise<Change> {
  return ensureAuthMethod(client, APPROLE_MOUNT, 'approle');
}

interface RoleData {
  token_policies?: string[];
  secret_id_ttl?: number;
  secret_id_num_uses?: number;
  token_ttl?: number;
  token_max_ttl?: number;
  bind_secret_id?: boolean;
}

export async function ensureRole(
  client: VaultClient,
  role: string,
  policy: string,
  ttls: RoleTokenTtls = DEFAULT_ROLE_TTLS,
): Promise<Change> {
  let actual: RoleData | undefined;
  try {
    actual = (await client.read<{ data: RoleData }>(`auth/${APPROLE_MOUNT}/role/${role}`)).data;
  } catch (err) {
    if (!(err instanceof VaultNotFoundError)) throw err;
  }
  const settings = roleSettings(ttls);
  const desired = { ...settings, token_policies: [policy] };
  const same =
    actual &&
    JSON.stringify([...(actual.token_policies ?? [])].sort()) === JSON.stringify(desired.token_policies) &&
    (Object.keys(settings) as (keyof typeof settings)[]).every((k) => actual[k] === desired[k]);
  if (same) return 'unchanged';
  await client.write(`auth/${APPROLE_MOUNT}/role/${role}`, desired);
  return actual ? 'updated' : 'created';
}

export interface CredentialFiles {
  roleIdFile: string;
  secretIdFile: string;
  roleId: Change;
  secretId: Change;
}

/** Writes `<dir>/role_id` and `<dir>/secret_id` (0600); keeps a secret_id that Vault still accepts. */
export async function ensureRoleCredentials(client: VaultClient, role: string, dir: string): Promise<CredentialFiles> {
  const roleIdFile = path.join(dir, 'role_id');
  const secretIdFile = path.join(dir, 'secret_id');
  const roleId = (await client.read<{ data: { role_id: string } }>(`auth/${APPROLE_MOUNT}/role/${role}/role-id`)).data
    .role_id;

  let existingRoleId: string | undefined;
  let existingSecretId: string | undefined;
  try {
    await ensureDir(dir);
    existingRoleId = (await readIfExists(roleIdFile))?.trim();
    existingSecretId = (await readIfExists(secretIdFile))?.trim();
  } catch (err) {
    throw new FilesystemError(`cannot use the AppRole directory ${dir}: ${fsReason(err)}`, err);
  }
  if (existingSecretId) registerSecret(existingSecretId);

  let roleIdChange: Change = 'unchanged';
  let secretIdChange: Change = 'unchanged';
  try {
    if (existingRoleId !== roleId) {
      await writeFileAtomic(roleIdFile, roleId, { mode: 0o600 });
      roleIdChange = existingRoleId === undefined ? 'created' : 'updated';
    } else {
      await fs.chmod(roleIdFile, 0o600);
    }
    if (existingSecretId && (await secretIdValid(client, role, existingSecretId))) {
      await fs.chmod(secretIdFile, 0o600);
    } else {
      const created = await client.write<{ data: { secret_id: string } }>(
        `auth/${APPROLE_MOUNT}/role/${role}/secret-id`,
        { metadata: JSON.stringify({ created_by: 'vault-init' }) },
      );
      registerSecret(created.data.secret_id);
      await writeFileAtomic(secretIdFile, created.data.secret_id, { mode: 0o600 });
      secretIdChange = existingSecretId === undefined ? 'created' : 'updated';
    }
  } catch (err) {
    // Only file-system errors carry a syscall; Vault errors pass through as they are.
    if (typeof (err as NodeJS.ErrnoException)?.syscall === 'string')
      throw new FilesystemError(`cannot write the AppRole credentials of ${role} to ${dir}: ${fsReason(err)}`, err);
    throw err;
  }
  return { roleIdFile, secretIdFile, roleId: roleIdChange, secretId: secretIdChange };
}

async function secretIdValid(client: VaultClient, role: string, secretId: string): Promise<boolean> {
  try {
    // Vault answers 204 (no body) for a secret_id it does not know.
    const res = await client.write<{ data?: unknown } | undefined>(
      `auth/${APPROLE_MOUNT}/role/${role}/secret-id/lookup`,
      { secret_id: secretId },
    );
    return !!res?.data;
  } catch (err) {
    if (err instanceof VaultNotFoundError || (err instanceof VaultRequestError && err.vaultStatus < 500)) return false;
    throw err;
  }
}
