/**
 * An auth method mounted at `auth/<mount>/`: enabled when missing, left alone when it is already there, and
 * never replaced when another type holds the mount (its roles and logins would go with it).
 * Vault docs: https://developer.hashicorp.com/vault/api-docs/system/auth
 */
import type { VaultClient } from '@aurora/common';
import { VaultObjectConflictError } from '../errors.js';
import type { Change } from './types.js';

/** The method types vault-init enables, and their names in Vault's own docs (for messages). */
const METHOD_NAMES = { approle: 'AppRole', kubernetes: 'Kubernetes' } as const;

/**
 * Enables the `type` auth method at `auth/<mount>/` unless it is there: 'created' or 'unchanged'.
 * @throws VaultObjectConflictError when another type of method holds the mount
 */
export async function ensureAuthMethod(
  client: VaultClient,
  mount: string,
  type: keyof typeof METHOD_NAMES,
): Promise<Change> {
  const methods = await client.authMethods();
  const actual = methods[`${mount}/`];
  if (!actual) {
    await client.enableAuthMethod(mount, type);
    return 'created';
  }
  if (actual.type !== type) {
    throw new VaultObjectConflictError(
      `auth/${mount}/ in Vault at ${client.addr} is a "${actual.type}" auth method, not ${METHOD_NAMES[type]}; vault-init will not replace it. Disable or move it, then restart vault-init.`,
    );
  }
  return 'unchanged';
}
