/**
 * The CLI's Vault identity, found the way the rest of the stack finds one:
 *   1. VAULT_TOKEN (not empty);
 *   2. AppRole with the role_id / secret_id files in VAULT_APPROLE_DIR, when that variable is set (the app
 *      container sets it, so `docker compose exec app aurora-secrets …` runs as the app);
 *   3. the Vault CLI's token helper file, ~/.vault-token (vault-init leaves an operator token there);
 *   4. AppRole with the files in /vault/approle/app, when they exist.
 * Long runs (`run --watch`) keep the token alive: renew-self at two thirds of its TTL when it is renewable,
 * a fresh AppRole login when renewal fails and AppRole is the identity.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { VaultClient, VaultForbiddenError } from '@aurora/common';
import { CliError } from './cli-error.js';
import type { CliVaultSettings } from './config.js';

export type IdentitySource =
  { kind: 'token'; from: string; token: string } | { kind: 'approle'; dir: string; roleId: string; secretId: string };

export interface SessionLog {
  info(message: string): void;
  warn(message: string): void;
}

async function readTrimmed(file: string): Promise<string | undefined> {
  try {
    const value = (await fs.readFile(file, 'utf8')).trim();
    return value === '' ? undefined : value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

async function approleFiles(dir: string): Promise<IdentitySource | undefined> {
  const [roleId, secretId] = await Promise.all([
    readTrimmed(path.join(dir, 'role_id')),
    readTrimmed(path.join(dir, 'secret_id')),
  ]);
  if (!roleId || !secretId) return undefined;
  return { kind: 'approle', dir, roleId, secretId };
}

/** Picks the identity (see the order above); throws CliError naming every place looked at when there is none. */
export async function findIdentity(settings: CliVaultSettings): Promise<IdentitySource> {
  if (settings.token) return { kind: 'token', from: 'VAULT_TOKEN', token: settings.token };
  if (settings.approleDir) {
    const found = await approleFiles(settings.approleDir);
    if (found) return found;
    throw new CliError(
      `VAULT_APPROLE_DIR=${settings.approleDir} holds no role_id and secret_id files: vault-init writes them ` +
        '(is it healthy?); or set VAULT_TOKEN, or unset VAULT_APPROLE_DIR to use ~/.vault-token',
    );
  }
  const fileToken = await readTrimmed(settings.tokenFile);
  if (fileToken) return { kind: 'token', from: settings.tokenFile, token: fileToken };
  const fallback = await approleFiles(settings.defaultApproleDir);
  if (fallback) return fallback;
  throw new CliError(
    'no Vault identity: set VAULT_TOKEN, or log in with `vault login` (writes ~/.vault-token), or point ' +
      `VAULT_APPROLE_DIR at a directory with role_id and secret_id (looked at ${settings.tokenFile} and ` +
      `${settings.defaultApproleDir})`,
  );
}

export function describeIdentity(source: IdentitySource): string {
  return source.kind === 'token' ? `the token from ${source.from}` : `AppRole (${source.dir})`;
}

/** A logged-in client plus what the error messages need to know about it (who, which policies). */
export class VaultSession {
  private renewTimer?: NodeJS.Timeout;
  private stopped = false;

  private constructor(
    readonly client: VaultClient,
    readonly source: IdentitySource,
    /** Policies of the token, for "denied" messages; empty when Vault did not say. */
    public policies: string[],
    private ttlSeconds: number,
    private renewable: boolean,
  ) {}

  /** Who is asking, for messages: "the token from VAULT_TOKEN" or "AppRole (/vault/approle/app)". */
  get identity(): string {
    return describeIdentity(this.source);
  }

  /**
   * Finds the identity and proves it works (AppRole login, or token lookup-self): a rejected token stops here
   * with a message naming where it came from, before any reference is read.
   */
  static async open(settings: CliVaultSettings): Promise<VaultSession> {
    const source = await findIdentity(settings);
    const client = new VaultClient({ addr: settings.addr, timeoutMs: settings.timeoutMs });
    if (source.kind === 'approle') {
      const login = await loginAppRole(client, source);
      client.token = login.token;
      return new VaultSession(client, source, login.policies, login.leaseDuration, login.renewable);
    }
    client.token = source.token;
    try {
      const info = await client.lookupSelf();
      return new VaultSession(client, source, info.policies ?? [], info.ttl ?? 0, info.renewable ?? false);
    } catch (err) {
      if (err instanceof VaultForbiddenError)
        throw new CliError(
          `Vault at ${settings.addr} rejected ${describeIdentity(source)} (expired or revoked): ` +
            (source.from === 'VAULT_TOKEN' ? 'set a valid VAULT_TOKEN' : `log in again (vault login) or remove it`),
        );
      throw new CliError(`cannot use Vault at ${settings.addr}: ${(err as Error).message}`);
    }
  }

  /** Keeps the token valid for a long run; call stop() when done. Failures are logged, never thrown. */
  keepAlive(log: SessionLog): void {
    this.schedule(log);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.renewTimer);
  }

  private schedule(log: SessionLog): void {
    clearTimeout(this.renewTimer);
    // A TTL of 0 is a root-like token that never expires; a non-renewable token can only be replaced by a login.
    if (this.stopped || this.ttlSeconds <= 0 || (!this.renewable && this.source.kind !== 'approle')) return;
    const delayMs = Math.max(1, (this.ttlSeconds * 2) / 3) * 1000;
    this.renewTimer = setTimeout(() => void this.refresh(log), delayMs);
    this.renewTimer.unref();
  }

  private async refresh(log: SessionLog): Promise<void> {
    try {
      if (!this.renewable) throw new Error('the token is not renewable');
      const res = await this.client.renewSelf();
      this.ttlSeconds = res.leaseDuration;
      this.renewable = res.renewable;
    } catch (err) {
      if (this.source.kind !== 'approle') {
        log.warn(
          `renewing ${this.identity} failed (${(err as Error).message}); it expires in about ${this.ttlSeconds}s`,
        );
        this.ttlSeconds = Math.max(0, this.ttlSeconds / 3);
        this.schedule(log);
        return;
      }
      try {
        const login = await loginAppRole(this.client, this.source);
        this.client.token = login.token;
        this.ttlSeconds = login.leaseDuration;
        this.renewable = login.renewable;
        this.policies = login.policies;
        log.info(`logged in to Vault again with ${this.identity}`);
      } catch (loginErr) {
        log.warn(`Vault login with ${this.identity} failed (${(loginErr as Error).message}); retrying in 5s`);
        this.ttlSeconds = 7.5;
      }
    }
    this.schedule(log);
  }
}

async function loginAppRole(client: VaultClient, source: Extract<IdentitySource, { kind: 'approle' }>) {
  try {
    return await client.withToken('').approleLogin(source.roleId, source.secretId);
  } catch (err) {
    throw new CliError(
      `AppRole login with the files in ${source.dir} failed: ${(err as Error).message}. ` +
        'vault-init rewrites them when it configures Vault: is it healthy? Or set VAULT_TOKEN.',
    );
  }
}
