/**
 * The app's Vault identity: VAULT_TOKEN when set, else an AppRole login with the role_id/secret_id files
 * vault-init wrote. Renews the token before it expires and logs in again when Vault rejects it (a restored
 * backup, a revoked token), so callers only ever see a working client or a typed error.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { VaultClient, VaultForbiddenError, type Logger } from '@aurora/common';
import { registerSecret } from '@aurora/common';

export interface VaultSessionOptions {
  addr: string;
  token?: string;
  approleDir: string;
  /** Kubernetes auth instead of AppRole: the role, and the file holding the pod's projected token. */
  kubernetes?: { role: string; tokenFile: string };
  timeoutMs: number;
  logger: Logger;
}

export class VaultSession {
  readonly client: VaultClient;
  private renewTimer?: NodeJS.Timeout;
  private loggingIn?: Promise<void>;
  private closed = false;

  constructor(private readonly options: VaultSessionOptions) {
    this.client = new VaultClient({ addr: options.addr, token: options.token, timeoutMs: options.timeoutMs });
  }

  /** Logs in (AppRole) unless a static token was given. Safe to call again: concurrent callers share one login. */
  async login(): Promise<void> {
    if (this.options.token) return;
    this.loggingIn ??= this.doLogin().finally(() => {
      this.loggingIn = undefined;
    });
    return this.loggingIn;
  }

  private async doLogin(): Promise<void> {
    if (this.options.kubernetes) return this.kubernetesLogin(this.options.kubernetes);
    const [roleId, secretId] = await Promise.all([
      readCredential(path.join(this.options.approleDir, 'role_id')),
      readCredential(path.join(this.options.approleDir, 'secret_id')),
    ]);
    registerSecret(secretId);
    const login = await this.client.withToken('', this.options.timeoutMs).approleLogin(roleId, secretId);
    registerSecret(login.token);
    this.client.token = login.token;
    this.scheduleRenewal(login.leaseDuration);
    this.options.logger.info('logged in to Vault with AppRole', {
      policies: login.policies,
      ttl_seconds: login.leaseDuration,
    });
  }

  private async kubernetesLogin(k8s: { role: string; tokenFile: string }): Promise<void> {
    const jwt = await readCredential(k8s.tokenFile);
    registerSecret(jwt);
    const login = await this.client.withToken('', this.options.timeoutMs).kubernetesLogin(k8s.role, jwt);
    registerSecret(login.token);
    this.client.token = login.token;
    this.scheduleRenewal(login.leaseDuration);
    this.options.logger.info('logged in to Vault with Kubernetes auth', {
      role: k8s.role,
      policies: login.policies,
      ttl_seconds: login.leaseDuration,
    });
  }

  private scheduleRenewal(ttlSeconds: number): void {
    clearTimeout(this.renewTimer);
    if (this.closed || ttlSeconds <= 0) return;
    // Renew at two thirds of the TTL; a failed renewal falls back to a fresh login.
    this.renewTimer = setTimeout(
      () => {
        void this.renew();
      },
      Math.max(1, (ttlSeconds * 2) / 3) * 1000,
    );
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    try {
      const res = await this.client.renewSelf();
      this.scheduleRenewal(res.leaseDuration);
    } catch (err) {
      this.options.logger.warn('token renewal failed; logging in again', { err });
      try {
        await this.login();
      } catch (loginErr) {
        this.options.logger.error('Vault login failed; retrying in 5 s', { err: loginErr });
        this.scheduleRenewal(7.5);
      }
    }
  }

  /**
   * Runs `fn` with the client; when Vault rejects the token (403) and we log in with AppRole, logs in
   * once more and retries once: a token may have been revoked or expired while the app slept.
   */
  async run<T>(fn: (client: VaultClient) => Promise<T>): Promise<T> {
    if (!this.options.token && !this.client.token) await this.login();
    try {
      return await fn(this.client);
    } catch (err) {
      if (!(err instanceof VaultForbiddenError) || this.options.token) throw err;
      const valid = await this.client.lookupSelf().then(
        () => true,
        () => false,
      );
      if (valid) throw err; // the token is fine: the policy really denies this path
      await this.login();
      return fn(this.client);
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.renewTimer);
  }
}

async function readCredential(file: string): Promise<string> {
  try {
    const value = (await fs.readFile(file, 'utf8')).trim();
    if (!value) throw new Error('empty');
    return value;
  } catch (err) {
    throw new Error(
      `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): vault-init writes it; is vault-init healthy? Or set VAULT_TOKEN.`,
    );
  }
}
