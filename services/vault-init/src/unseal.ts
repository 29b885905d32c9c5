/** Step 4: unseal with threshold keys, after discarding partial progress someone else left behind. */
import { VaultForbiddenError, VaultRequestError, type Logger, type SealStatus, type VaultClient } from '@aurora/common';
import { InitMaterialError } from './errors.js';
import type { InitMaterial } from './init-store.js';
import { countUnseal } from './metrics.js';

export interface UnsealOutcome {
  /** False when Vault was already unsealed (nothing was submitted). */
  unsealed: boolean;
  keysSubmitted: number;
  discardedProgress: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function unseal(
  client: VaultClient,
  material: InitMaterial,
  options: { initFile: string; logger: Logger },
): Promise<UnsealOutcome> {
  let status: SealStatus = await client.sealStatus();
  if (!status.sealed) return { unsealed: false, keysSubmitted: 0, discardedProgress: 0 };

  const discardedProgress = status.progress;
  if (status.progress > 0) {
    // Progress from another client would be mixed with our keys: a wrong key there fails our attempt too.
    options.logger.warn('discarding partial unseal progress left by another client', {
      progress: status.progress,
      threshold: status.t,
    });
    status = await client.unsealReset();
  }

  const keys = material.keys_base64;
  if (keys.length < status.t) {
    throw new InitMaterialError(
      `${options.initFile} holds ${keys.length} unseal key(s) but Vault at ${client.addr} needs ${status.t}: the file belongs to another Vault.`,
      options.initFile,
    );
  }

  let submitted = 0;
  for (const key of keys) {
    try {
      status = await client.unseal(key);
    } catch (err) {
      if (
        err instanceof VaultRequestError &&
        (err.vaultStatus < 500 || /authentication failed|invalid key|unseal/i.test(err.message))
      ) {
        await client.unsealReset().catch(() => undefined);
        throw new InitMaterialError(
          `Vault at ${client.addr} rejected the unseal keys in ${options.initFile} (Vault said: ${err.message.replace(/^.*?: /, '').replace(/\s+/g, ' ')}): ` +
            'the file belongs to another Vault, or was altered.',
          options.initFile,
          { cause: err },
        );
      }
      throw err;
    }
    submitted += 1;
    if (!status.sealed) break;
  }
  if (status.sealed) {
    await client.unsealReset().catch(() => undefined);
    throw new InitMaterialError(
      `Vault at ${client.addr} is still sealed after all ${submitted} key(s) from ${options.initFile}: the file belongs to another Vault.`,
      options.initFile,
    );
  }
  const check = await client.sealStatus();
  if (check.sealed)
    throw new Error(
      `Vault at ${client.addr} reported sealed right after a successful unseal (sealed again by someone else?)`,
    );
  countUnseal(client.addr);
  return { unsealed: true, keysSubmitted: submitted, discardedProgress };
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
