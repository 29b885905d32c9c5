/**
 * Root-token hygiene (VAULT_REVOKE_ROOT_TOKEN): revoke init.json's root token once Vault is configured, and,
 * on every later configure, get root access from the unseal keys instead: generate-root gives a root token
 * without a TTL, which is traded at once for an orphan root token that expires in ROOT_SESSION_TTL and is
 * revoked as soon as configure is done. A crash in between leaves nothing usable for long.
 * No token is ever logged; each one is registered with the redacting logger the moment it exists.
 */
import {
  GenerateRootKeysError,
  VaultForbiddenError,
  isRaftTransition,
  registerSecret,
  type Logger,
  type VaultClient,
} from '@aurora/common';
import { InitMaterialError } from './errors.js';
import type { InitMaterial } from './init-store.js';

/** Long enough for a configure on a slow machine, short enough that a leftover token does not matter. */
export const ROOT_SESSION_TTL = '15m';

export type RevokeResult = 'revoked' | 'already-revoked';

/** How long a revoke waits for a Raft cluster to settle on a new leader (an election takes seconds). */
const REVOKE_ELECTION_WAIT_MS = 30_000;

/**
 * `auth/token/revoke-self` with `token`; a 403 means Vault no longer knows it, which is the goal too. A Raft
 * cluster between leaders (just after a restore or a failover) answers "leadership lost": the revoke is asked
 * again until the cluster has a leader, for up to REVOKE_ELECTION_WAIT_MS.
 */
export async function revokeToken(client: VaultClient, token: string): Promise<RevokeResult> {
  const deadline = Date.now() + REVOKE_ELECTION_WAIT_MS;
  for (;;) {
    try {
      await client.withToken(token).write('auth/token/revoke-self', {});
      return 'revoked';
    } catch (err) {
      if (err instanceof VaultForbiddenError) return 'already-revoked';
      if (!isRaftTransition(err) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export interface RootSession {
  token: string;
  keysUsed: number;
  cancelledPrevious: boolean;
}

/** A short-lived root token made with the unseal keys of `material`. Revoke it when done (revokeToken). */
export async function generateRootSession(
  client: VaultClient,
  material: InitMaterial,
  initFile: string,
  logger: Logger,
): Promise<RootSession> {
  let generated;
  try {
    generated = await client.withToken('', 10_000).generateRoot.rootToken(material.keys_base64);
  } catch (err) {
    if (err instanceof GenerateRootKeysError) {
      throw new InitMaterialError(
        `Vault at ${client.addr} rejects the root token in ${initFile} (VAULT_REVOKE_ROOT_TOKEN=true revoked it, or it was never this Vault's), ` +
          `and its unseal keys cannot generate a new one: ${err.message}.`,
        initFile,
        { cause: err },
      );
    }
    throw err;
  }
  if (generated.cancelledPrevious)
    logger.warn(
      'generate-root: cancelled an unfinished attempt someone else had left (it cannot be finished without its OTP)',
    );
  try {
    const created = await client
      .withToken(generated.token, 10_000)
      .write<{ auth: { client_token: string } }>('auth/token/create', {
        policies: ['root'],
        ttl: ROOT_SESSION_TTL,
        explicit_max_ttl: ROOT_SESSION_TTL,
        renewable: false,
        // Orphan: it must outlive the revocation of the generated token, right below.
        no_parent: true,
        display_name: 'vault-init-root-session',
        meta: { created_by: 'vault-init' },
      });
    registerSecret(created.auth.client_token);
    return {
      token: created.auth.client_token,
      keysUsed: generated.keysUsed,
      cancelledPrevious: generated.cancelledPrevious,
    };
  } finally {
    await revokeToken(client, generated.token);
  }
}
