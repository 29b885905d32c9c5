/**
 * Step 4: unseal with the threshold of keys from init.json (the shared routine of @aurora/common), after
 * discarding partial progress someone else left behind. Used for a single Vault and for every Raft node.
 */
import {
  UnsealKeysError,
  VaultForbiddenError,
  unsealVault,
  type Logger,
  type UnsealOutcome,
  type VaultClient,
} from '@aurora/common';
import { InitMaterialError } from './errors.js';
import type { InitMaterial } from './init-store.js';
import { countUnseal } from './metrics.js';

export type { UnsealOutcome } from '@aurora/common';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Unseals `client` with `material`'s keys. Keys that cannot unseal it become an InitMaterialError naming
 * `initFile` (exit 4): the file belongs to another Vault, or was altered.
 */
export async function unseal(
  client: VaultClient,
  material: InitMaterial,
  options: { initFile: string; logger: Logger },
): Promise<UnsealOutcome> {
  try {
    const outcome = await unsealVault(client, material.keys_base64, {
      threshold: material.threshold,
      onDiscardProgress: (progress, threshold) =>
        // Progress from another client would be mixed with our keys: a wrong key there fails our attempt too.
        options.logger.warn('discarding partial unseal progress left by another client', {
          node: client.addr,
          progress,
          threshold,
        }),
    });
    if (outcome.unsealed) countUnseal(client.addr);
    return outcome;
  } catch (err) {
    if (!(err instanceof UnsealKeysError)) throw err;
    throw new InitMaterialError(
      err.vaultSaid === undefined
        ? `${options.initFile} holds ${err.have} unseal key(s) but Vault at ${client.addr} needs ${err.needed}: the file belongs to another Vault.`
        : `Vault at ${client.addr} rejected the unseal keys in ${options.initFile} (Vault said: ${err.vaultSaid}): ` +
            'the file belongs to another Vault, or was altered.',
      options.initFile,
      { cause: err },
    );
  }
}

/** An unsealed Vault takes a moment to become active; requests before that fail with 5xx. */
export async function waitActive(client: VaultClient, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const h = await client.health().catch(() => undefined);
    if (h && h.initialized && !h.sealed && !h.standby) return;
    // Sealed again right after our unseal: Vault restarted meanwhile. Waiting would not help; unsealing again will.
    if (h?.sealed) throw new Error(`Vault at ${client.addr} was sealed again while becoming active (restarted?)`);
    if (Date.now() > deadline)
      throw new Error(`Vault at ${client.addr} did not become active within ${timeoutMs} ms after unsealing`);
    await sleep(50);
  }
}

/**
 * A root token Vault no longer accepts means the file is from another Vault, or the token was revoked.
 * With `allowRevoked` (VAULT_REVOKE_ROOT_TOKEN=true) a refused token is expected: the answer is false and the
 * caller generates a short-lived one from the unseal keys instead. True when the token works.
 */
export async function verifyRootToken(
  client: VaultClient,
  material: InitMaterial,
  initFile: string,
  options: { allowRevoked?: boolean } = {},
): Promise<boolean> {
  try {
    await client.withToken(material.root_token).lookupSelf();
    return true;
  } catch (err) {
    if (err instanceof VaultForbiddenError) {
      if (options.allowRevoked) return false;
      throw new InitMaterialError(
        `Vault at ${client.addr} rejects the root token in ${initFile}: the file belongs to another Vault, or the root token was revoked ` +
          '(if vault-init revoked it because VAULT_REVOKE_ROOT_TOKEN was true, set it to true again; otherwise, to keep going with a ' +
          'revoked root token, generate a new one with `make root-token` and put it into the file).',
        initFile,
        { cause: err },
      );
    }
    throw err;
  }
}
