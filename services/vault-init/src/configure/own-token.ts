/**
 * vault-init's own token: periodic, policy aurora-vault-init (audit device switches) + default (lookup-self,
 * renew-self), kept in the init directory next to init.json (0600). Between configure runs vault-init works
 * with it instead of the root token, which may be revoked (VAULT_REVOKE_ROOT_TOKEN). The lifetime watcher
 * renews it (own-session.ts); a rerun of configure keeps it while it still works and is ours.
 */
import path from 'node:path';
import { VaultForbiddenError, registerSecret, type VaultClient } from '@aurora/common';
import { FilesystemError, fsReason } from '../errors.js';
import { ensureDir, readIfExists, writeFileAtomic } from '../fs-atomic.js';
import { VAULT_INIT_POLICY } from './policies.js';
import type { Change } from './types.js';

export const OWN_TOKEN_FILE = 'vault-init-token';

export interface OwnToken {
  file: string;
  token: string;
  change: Change;
}

interface LookupData {
  policies?: string[];
  period?: number;
}

/** Path of the token file in `initDir`. */
export function ownTokenFile(initDir: string): string {
  return path.join(initDir, OWN_TOKEN_FILE);
}

/** Reads the token file; undefined when missing or empty. */
export async function readOwnToken(initDir: string): Promise<string | undefined> {
  const file = ownTokenFile(initDir);
  try {
    const token = (await readIfExists(file))?.trim() || undefined;
    if (token) registerSecret(token);
    return token;
  } catch (err) {
    throw new FilesystemError(`cannot read ${file}: ${fsReason(err)}`, err);
  }
}

/** `client` must hold the root token. Keeps a token that still works with the desired period; else makes one. */
export async function ensureOwnToken(client: VaultClient, initDir: string, periodSeconds: number): Promise<OwnToken> {
  const file = ownTokenFile(initDir);
  const existing = await readOwnToken(initDir);
  if (existing) {
    let data: LookupData | undefined;
    try {
      data = (await client.withToken(existing).read<{ data: LookupData }>('auth/token/lookup-self')).data;
    } catch (err) {
      if (!(err instanceof VaultForbiddenError)) throw err;
    }
    if (data && data.policies?.includes(VAULT_INIT_POLICY) && data.period === periodSeconds) {
      await client.withToken(existing).write('auth/token/renew-self', {});
      return { file, token: existing, change: 'unchanged' };
    }
  }
  const created = await client.write<{ auth: { client_token: string } }>('auth/token/create', {
    policies: [VAULT_INIT_POLICY],
    period: `${periodSeconds}s`,
    // Orphan: revoking the root token some day must not take this one with it.
    no_parent: true,
    display_name: 'aurora-vault-init',
    meta: { created_by: 'vault-init' },
  });
  const token = created.auth.client_token;
  registerSecret(token);
  try {
    await ensureDir(initDir);
    await writeFileAtomic(file, token, { mode: 0o600 });
  } catch (err) {
    throw new FilesystemError(`cannot write vault-init's own token to ${file}: ${fsReason(err)}`, err);
  }
  return { file, token, change: existing ? 'updated' : 'created' };
}
