/**
 * The operator token: periodic, policy aurora-operator (+ default), written where the CLI's default token
 * helper looks (~/.vault-token of root in the vault container). It lets `docker exec vault vault kv ...`
 * work with neither the root token nor the unseal keys inside that container.
 */
import path from 'node:path';
import { VaultForbiddenError, type VaultClient } from '@aurora/common';
import { ensurePeriodicToken, type PeriodicToken } from './periodic-token.js';
import { OPERATOR_POLICY } from './policies.js';

/** Renewed by watch mode; outlives a stopped stack for this long before a restart replaces it. */
export const OPERATOR_TOKEN_PERIOD = '72h';
export const OPERATOR_TOKEN_FILE = '.vault-token';

export type OperatorToken = PeriodicToken;

export async function ensureOperatorToken(client: VaultClient, dir: string): Promise<OperatorToken> {
  return ensurePeriodicToken(client, {
    file: path.join(dir, OPERATOR_TOKEN_FILE),
    policy: OPERATOR_POLICY,
    period: OPERATOR_TOKEN_PERIOD,
    displayName: 'aurora-operator',
    what: 'the operator token',
    writeHint: `In compose this is the vault-cli volume; it must be writable by uid ${process.getuid?.() ?? 1000}.`,
  });
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
