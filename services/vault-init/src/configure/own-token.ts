/**
 * vault-init's own token: periodic, policy aurora-vault-init (audit device switches) + default (lookup-self,
 * renew-self), kept in the init directory next to init.json (0600). Between configure runs vault-init works
 * with it instead of the root token, which may be revoked (VAULT_REVOKE_ROOT_TOKEN). The lifetime watcher
 * renews it (own-session.ts); a rerun of configure keeps it while it still works and is ours.
 */
import path from 'node:path';
import type { VaultClient } from '@aurora/common';
import { ensurePeriodicToken, readTokenFile, type PeriodicToken } from './periodic-token.js';
import { VAULT_INIT_POLICY } from './policies.js';

export const OWN_TOKEN_FILE = 'vault-init-token';

export type OwnToken = PeriodicToken;

/** Path of the token file in `initDir`. */
export function ownTokenFile(initDir: string): string {
  return path.join(initDir, OWN_TOKEN_FILE);
}

/** Reads the token file; undefined when missing or empty. */
export function readOwnToken(initDir: string): Promise<string | undefined> {
  return readTokenFile(ownTokenFile(initDir));
}

/** `client` must hold the root token. Keeps a token that still works with the desired period; else makes one. */
export function ensureOwnToken(client: VaultClient, initDir: string, periodSeconds: number): Promise<OwnToken> {
  return ensurePeriodicToken(client, {
    file: ownTokenFile(initDir),
    policy: VAULT_INIT_POLICY,
    period: periodSeconds,
    periodSeconds,
    displayName: 'aurora-vault-init',
    what: "vault-init's own token",
  });
}
