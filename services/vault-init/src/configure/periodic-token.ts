/**
 * A periodic, orphan token kept in a file (0600): the protocol the operator token, the metrics token and
 * vault-init's own token share. A token already in the file is kept (and renewed) while it still works and is
 * ours — it holds `policy` and a period (the desired one, when `periodSeconds` is given); otherwise a new one is
 * created with the root token and replaces it. Someone may have run `vault login` where the file lives, leaving
 * another token there: only ours is kept.
 */
import { VaultForbiddenError, registerSecret, type VaultClient } from '@aurora/common';
import path from 'node:path';
import { FilesystemError, fsReason } from '../errors.js';
import { ensureDir, readIfExists, writeFileAtomic } from '../fs-atomic.js';
import type { Change } from './types.js';

export interface PeriodicTokenSpec {
  /** Where the token lives. */
  file: string;
  /** The one policy it carries (besides `default`, unless `noDefaultPolicy`). */
  policy: string;
  /** Vault's period: a duration string ("72h") or seconds. */
  period: string | number;
  /** When set, a token with another period is replaced (the setting changed). */
  periodSeconds?: number;
  displayName: string;
  noDefaultPolicy?: boolean;
  /** What it is, for messages ("the operator token"). */
  what: string;
  /** Appended to a write failure: what the directory is and who must be able to write it. */
  writeHint?: string;
}

export interface PeriodicToken {
  file: string;
  token: string;
  change: Change;
}

interface LookupData {
  policies?: string[];
  period?: number;
}

/** The token in `file`, registered with the redacting logger; undefined when the file is missing or empty. */
export async function readTokenFile(file: string): Promise<string | undefined> {
  try {
    const token = (await readIfExists(file))?.trim() || undefined;
    if (token) registerSecret(token);
    return token;
  } catch (err) {
    throw new FilesystemError(`cannot read ${file}: ${fsReason(err)}`, err);
  }
}

/** `client` must hold the root token. Errors: FilesystemError (read/write of the file), Vault errors. */
export async function ensurePeriodicToken(client: VaultClient, spec: PeriodicTokenSpec): Promise<PeriodicToken> {
  const { file } = spec;
  const existing = await readTokenFile(file);
  if (existing) {
    let data: LookupData | undefined;
    try {
      data = (await client.withToken(existing).read<{ data: LookupData }>('auth/token/lookup-self')).data;
    } catch (err) {
      if (!(err instanceof VaultForbiddenError)) throw err;
    }
    const period = data?.period ?? 0;
    const ours = data?.policies?.includes(spec.policy) === true && period > 0;
    if (ours && (spec.periodSeconds === undefined || period === spec.periodSeconds)) {
      await client.withToken(existing).write('auth/token/renew-self', {});
      return { file, token: existing, change: 'unchanged' };
    }
  }
  const created = await client.write<{ auth: { client_token: string } }>('auth/token/create', {
    policies: [spec.policy],
    ...(spec.noDefaultPolicy ? { no_default_policy: true } : {}),
    period: typeof spec.period === 'number' ? `${spec.period}s` : spec.period,
    // Orphan: revoking the root token some day must not take this one with it.
    no_parent: true,
    display_name: spec.displayName,
    meta: { created_by: 'vault-init' },
  });
  const token = created.auth.client_token;
  registerSecret(token);
  try {
    await ensureDir(path.dirname(file));
    await writeFileAtomic(file, token, { mode: 0o600 });
  } catch (err) {
    throw new FilesystemError(
      `cannot write ${spec.what} to ${file}: ${fsReason(err)}${spec.writeHint ? `. ${spec.writeHint}` : ''}`,
      err,
    );
  }
  return { file, token, change: existing ? 'updated' : 'created' };
}
