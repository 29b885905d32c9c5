/**
 * The few unauthenticated Vault calls operations need (seal status, unseal, generate-root). The generate-root
 * flow and the HTTP call are vault-init's own module (its in-container `dist/root-token.js` runs the same code),
 * imported from its source; unsealing is the routine of @aurora/common that vault-init uses too.
 * Errors name the endpoint and the status, never a key, a nonce's use or a token.
 */
import fs from 'node:fs';
import { UnsealKeysError, VaultClient, unsealVault } from '@aurora/common';
import { generateRootToken, vaultCall } from '../../services/vault-init/src/generate-root.js';
import type { Storage } from './archive.js';
import { waitFor } from '../../test/harness/processes.js';

export {
  decodeRootToken,
  generateRootToken,
  vaultCall,
  type GenerateRootResult,
} from '../../services/vault-init/src/generate-root.js';

export interface SealStatus {
  initialized: boolean;
  sealed: boolean;
  t: number;
  n: number;
  progress: number;
  version: string;
  storage_type?: string;
}

/** The storage behind Vault, as seal-status reports it: Raft (make prod-local-ha) or file (everything else). */
export function storageOf(status: SealStatus): Storage {
  return status.storage_type === 'raft' ? 'raft' : 'file';
}

export interface InitMaterial {
  keys_base64: string[];
  keys?: string[];
  root_token?: string;
  threshold?: number;
  shares?: number;
}

function call<T>(addr: string, method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  return vaultCall<T>(addr, method, path, body, { timeoutMs });
}

export function sealStatus(addr: string): Promise<SealStatus> {
  return call<SealStatus>(addr, 'GET', 'sys/seal-status', undefined, 3000);
}

// The harness's poller: ops scripts and tests wait the same way.
export { waitFor } from '../../test/harness/processes.js';

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

export function readInitMaterial(text: string, where: string): InitMaterial {
  let parsed: InitMaterial;
  try {
    parsed = JSON.parse(text) as InitMaterial;
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

export function readInitFile(file: string): InitMaterial {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the init material ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return readInitMaterial(text, file);
}

/**
 * Unseals the Vault at `addr` with the keys of `material` (where no vault-init watches it), through the same
 * routine vault-init uses. Keys that cannot do it: an error saying they do not belong to this Vault.
 */
export async function unsealWith(addr: string, material: InitMaterial): Promise<void> {
  try {
    await unsealVault(new VaultClient({ addr, timeoutMs: 10_000 }), material.keys_base64, {
      threshold: material.threshold,
    });
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
  material: InitMaterial,
  fn: (token: string) => Promise<T>,
  log: (msg: string) => void = () => undefined,
): Promise<T> {
  if (material.root_token) {
    const valid = await vaultCall<{ data?: { policies?: string[] } }>(
      addr,
      'GET',
      'auth/token/lookup-self',
      undefined,
      { token: material.root_token },
    ).then(
      (r) => r.data?.policies?.includes('root') === true,
      () => false,
    );
    if (valid) return fn(material.root_token);
  }
  log('the root token of init.json is revoked: generating a temporary one from the unseal keys (revoked after use)');
  const { token } = await generateRootToken(addr, material);
  try {
    return await fn(token);
  } finally {
    // After a restore the token may be gone with the old storage: nothing left to revoke then.
    await vaultCall(addr, 'POST', 'auth/token/revoke-self', {}, { token }).catch(() => undefined);
  }
}
