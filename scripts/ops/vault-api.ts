/**
 * What operations need of Vault beyond the stack's own services (seal status, unseal where no vault-init
 * watches, a root token for the job), over the one Vault client of @aurora/common.
 * Errors name the endpoint and the status, never a key or a token.
 */
import { UnsealKeysError, VaultClient, unsealVault, type SealStatus } from '@aurora/common';
import type { Storage } from './archive.js';
import { waitFor } from '@aurora/process';

export type { SealStatus } from '@aurora/common';

/** A client for the operations scripts: one Vault, optionally a token, a generous per-call timeout. */
export function opsClient(addr: string, token?: string, timeoutMs = 10_000): VaultClient {
  return new VaultClient({ addr, token, timeoutMs });
}

/** The storage behind Vault, as seal-status reports it: Raft (make prod-local-ha) or file (everything else). */
export function storageOf(status: SealStatus): Storage {
  return status.storage_type === 'raft' ? 'raft' : 'file';
}

/** What the operations scripts need of an init.json (a backup's may come from an older vault-init). */
export interface InitFileKeys {
  keys_base64: string[];
  keys?: string[];
  root_token?: string;
  threshold?: number;
  shares?: number;
}

export function sealStatus(addr: string): Promise<SealStatus> {
  return opsClient(addr, undefined, 3000).sealStatus();
}

// The harness's poller: ops scripts and tests wait the same way.
export { waitFor } from '@aurora/process';

/** Waits until Vault answers and is unsealed. */
export function waitUnsealed(addr: string, timeoutMs: number): Promise<SealStatus> {
  return waitFor(
    `Vault at ${addr} to be unsealed`,
    async () => {
      const s = await sealStatus(addr);
      return s.initialized && !s.sealed ? s : undefined;
    },
    timeoutMs,
  );
}

export function readInitMaterial(text: string, where: string): InitFileKeys {
  let parsed: InitFileKeys;
  try {
    parsed = JSON.parse(text) as InitFileKeys;
  } catch {
    throw new Error(`${where} is not valid JSON (${text.length} bytes)`);
  }
  if (
    !Array.isArray(parsed?.keys_base64) ||
    parsed.keys_base64.length === 0 ||
    !parsed.keys_base64.every((k) => typeof k === 'string')
  ) {
    throw new Error(`${where} holds no unseal keys ("keys_base64")`);
  }
  return parsed;
}

/**
 * Unseals the Vault at `addr` with the keys of `material` (where no vault-init watches it), through the same
 * routine vault-init uses. Keys that cannot do it: an error saying they do not belong to this Vault.
 */
export async function unsealWith(addr: string, material: InitFileKeys): Promise<void> {
  try {
    await unsealVault(opsClient(addr), material.keys_base64, { threshold: material.threshold });
  } catch (err) {
    if (!(err instanceof UnsealKeysError)) throw err;
    throw new Error(`${err.message}: the keys of the init material do not belong to this Vault`, { cause: err });
  }
}

/**
 * Runs `fn` with a root token for the Vault at `addr`: init.json's own while it is valid; when vault-init
 * revoked it (VAULT_REVOKE_ROOT_TOKEN), a fresh one from the unseal keys (generate-root, as make root-token
 * does), revoked again right after. `fn` is the only user; the token is never printed.
 */
export async function withRootToken<T>(
  addr: string,
  material: InitFileKeys,
  fn: (token: string) => Promise<T>,
  log: (msg: string) => void = () => undefined,
): Promise<T> {
  if (material.root_token) {
    const valid = await opsClient(addr, material.root_token)
      .lookupSelf()
      .then(
        (info) => info.policies.includes('root'),
        () => false,
      );
    if (valid) return fn(material.root_token);
  }
  log('the root token of init.json is revoked: generating a temporary one from the unseal keys (revoked after use)');
  const { token } = await opsClient(addr).generateRoot.rootToken(material.keys_base64);
  try {
    return await fn(token);
  } finally {
    // After a restore the token may be gone with the old storage: nothing left to revoke then.
    await opsClient(addr, token)
      .write('auth/token/revoke-self', {})
      .catch(() => undefined);
  }
}
