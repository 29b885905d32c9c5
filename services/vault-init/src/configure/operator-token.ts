/**
 * The operator token: periodic, policy aurora-operator (+ default), written where the CLI's default token
 * helper looks (~/.vault-token of root in the vault container). It lets `docker exec vault vault kv ...`
 * work with neither the root token nor the unseal keys inside that container.
 */
import path from 'node:path';
import { VaultForbiddenError, registerSecret, type VaultClient } from '@aurora/common';
import { FilesystemError, fsReason } from '../errors.js';
import { ensureDir, readIfExists, writeFileAtomic } from '../fs-atomic.js';
import { OPERATOR_POLICY } from './policies.js';
import type { Change } from './types.js';

/** Renewed by watch mode; outlives a stopped stack for this long before a restart replaces it. */
export const OPERATOR_TOKEN_PERIOD = '72h';
export const OPERATOR_TOKEN_FILE = '.vault-token';

export interface OperatorToken {
  file: string;
  token: string;
  change: Change;
}

interface LookupData {
  policies?: string[];
  period?: number;
  ttl?: number;
  meta?: Record<string, string> | null;
}

/** The token's lookup data when it still works and is ours; undefined otherwise. */
async function lookup(client: VaultClient, token: string): Promise<LookupData | undefined> {
  try {
    return (await client.withToken(token).read<{ data: LookupData }>('auth/token/lookup-self')).data;
  } catch (err) {
    if (err instanceof VaultForbiddenError) return undefined;
    throw err;
  }
}

export async function ensureOperatorToken(client: VaultClient, dir: string): Promise<OperatorToken> {
  const file = path.join(dir, OPERATOR_TOKEN_FILE);
  let existing: string | undefined;
  try {
    existing = (await readIfExists(file))?.trim() || undefined;
  } catch (err) {
    throw new FilesystemError(`cannot read ${file}: ${fsReason(err)}`, err);
  }
  if (existing) {
    registerSecret(existing);
    const data = await lookup(client, existing);
    // Someone may have run `vault login` in the container, leaving another token here: only ours is kept.
    if (data && data.policies?.includes(OPERATOR_POLICY) && (data.period ?? 0) > 0) {
      await client.withToken(existing).write('auth/token/renew-self', {});
      return { file, token: existing, change: 'unchanged' };
    }
  }
  const created = await client.write<{ auth: { client_token: string } }>('auth/token/create', {
    policies: [OPERATOR_POLICY],
    period: OPERATOR_TOKEN_PERIOD,
    // Orphan: revoking the root token some day must not take the CLI's token with it.
    no_parent: true,
    display_name: 'aurora-operator',
    meta: { created_by: 'vault-init' },
  });
  const token = created.auth.client_token;
  registerSecret(token);
  try {
    await ensureDir(dir);
    await writeFileAtomic(file, token, { mode: 0o600 });
  } catch (err) {
    throw new FilesystemError(
      `cannot write the operator token to ${file}: ${fsReason(err)}. In compose this is the vault-cli volume; it must be writable by uid ${process.getuid?.() ?? 1000}.`,
      err,
    );
  }
  return { file, token, change: existing ? 'updated' : 'created' };
}

/** Keeps the periodic token alive; false when it no longer works (then ensureOperatorToken replaces it). */
export async function renewOperatorToken(client: VaultClient, token: string): Promise<boolean> {
  try {
    await client.withToken(token).write('auth/token/renew-self', {});
    return true;
  } catch (err) {
    if (err instanceof VaultForbiddenError) return false;
    throw err;
  }
}
