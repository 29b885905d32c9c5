/**
 * How the CLI finds Vault and its identity, read once from the environment. The names are the ones the rest of
 * the stack and Vault's own CLI use (VAULT_ADDR, VAULT_TOKEN, ~/.vault-token, VAULT_APPROLE_DIR), so that
 * `docker compose exec app aurora-secrets …` runs with the app's identity without any extra setting.
 */
import os from 'node:os';
import path from 'node:path';
import { ConfigError, EnvReader } from '@aurora/common';
import { CliError } from './cli-error.js';

/** Where the app's AppRole files live in compose (vault-init writes role_id and secret_id there). */
export const DEFAULT_APPROLE_DIR = '/vault/approle/app';

export interface CliVaultSettings {
  /** VAULT_ADDR; the stack serves plain HTTP locally, hence not the Vault CLI's https default. */
  addr: string;
  /** VAULT_TOKEN when set and not empty (compose passes `${APP_VAULT_TOKEN:-}`, i.e. often empty). */
  token?: string;
  /** VAULT_APPROLE_DIR when set: an explicit choice, tried before the token helper file. */
  approleDir?: string;
  /** The Vault CLI's token helper file, `$HOME/.vault-token`. */
  tokenFile: string;
  /** Tried last, when nothing else gave an identity. */
  defaultApproleDir: string;
  /** Per-request timeout to Vault, ms (VAULT_TIMEOUT_MS). */
  timeoutMs: number;
}

/** Reads the settings from `env`; throws CliError listing every bad variable with an example of a good value. */
export function loadVaultSettings(env: NodeJS.ProcessEnv = process.env): Readonly<CliVaultSettings> {
  const r = new EnvReader(env);
  const token = r.optional('VAULT_TOKEN');
  const approleDir = r.optional('VAULT_APPROLE_DIR');
  const settings: CliVaultSettings = {
    addr: r.url('VAULT_ADDR', 'http://127.0.0.1:8200'),
    ...(token ? { token } : {}),
    ...(approleDir ? { approleDir } : {}),
    tokenFile: path.join(env.HOME || os.homedir(), '.vault-token'),
    defaultApproleDir: DEFAULT_APPROLE_DIR,
    timeoutMs: r.int('VAULT_TIMEOUT_MS', 5000, { min: 100, max: 120_000 }),
  };
  try {
    return r.done(settings);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
}
