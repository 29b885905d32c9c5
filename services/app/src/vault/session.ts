/**
 * The app's Vault identity: VAULT_TOKEN when set, else an AppRole login with the role_id/secret_id files
 * vault-init wrote. The shared lifetime watcher keeps the token alive: it renews at two thirds of the TTL, logs
 * in again before the max TTL (AppRole) and says when a static token cannot be kept alive. Requests keep
 * flowing through a re-login: the new token replaces the old one in one assignment, and a request that still
 * meets a 403 for a token Vault no longer knows logs in and retries once.
 *
 * The session also remembers how Vault answered the last authenticated calls, so /readyz and /status can say
 * "Vault refuses requests" without a probe of their own on every call.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  AuroraError,
  LifetimeWatcher,
  TokenLifetime,
  VaultClient,
  VaultForbiddenError,
  VaultRefusingError,
  diagnoseVaultError,
  registerSecret,
  type LifetimeState,
  type Logger,
} from '@aurora/common';

export interface VaultSessionOptions {
  addr: string;
  token?: string;
  approleDir: string;
  /** Kubernetes auth instead of AppRole: the role and the projected service-account token's file. */
  kubernetes?: { role: string; tokenFile: string };
  timeoutMs: number;
  logger: Logger;
  /** A token TTL under this many seconds gets a warning at start (default 300). */
  shortLivedTokenSeconds?: number;
}

/** How Vault answered the last authenticated call. */
export interface VaultRequestsState {
  /** 'ok', or the named cause of the last refusal (e.g. the audit log cannot be written). */
  status: 'ok' | 'refusing' | 'unknown';
  /** Wall-clock ms of the last answer (success or refusal); 0 = none yet. */
  lastAnswerAt: number;
  diagnosis?: string;
}

export class VaultSession {
  readonly client: VaultClient;
  readonly watcher: LifetimeWatcher;
  private starting?: Promise<void>;
  private started = false;
  private requests: VaultRequestsState = { status: 'unknown', lastAnswerAt: 0 };

  constructor(private readonly options: VaultSessionOptions) {
    this.client = new VaultClient({ addr: options.addr, token: options.token, timeoutMs: options.timeoutMs });
    const k8s = options.kubernetes;
    const source = options.token
      ? new TokenLifetime(this.client, "the app's Vault token (VAULT_TOKEN)")
      : new TokenLifetime(
          this.client,
          k8s ? "the app's Vault token (Kubernetes auth)" : "the app's Vault token (AppRole)",
          () => (k8s ? this.kubernetesLogin(k8s) : this.approleLogin()),
          (token) => registerSecret(token),
        );
    this.watcher = new LifetimeWatcher(source, {
      logger: options.logger,
      shortLivedSeconds: options.shortLivedTokenSeconds,
    });
  }

  /**
   * Starts keeping the token alive: logs in (AppRole) or looks the static token up, and warns about a token that
   * is not renewable or short-lived. After the first call, logs in again (AppRole; concurrent callers share one
   * login). Rejects when that fails; the watcher keeps trying in the background.
   */
  async login(): Promise<void> {
    if (!this.started) {
      this.starting ??= this.watcher.start().finally(() => {
        this.started = true;
        this.starting = undefined;
      });
      return this.starting;
    }
    if (this.options.token) return;
    return this.watcher.refresh();
  }

  /**
   * Starts the session once (as the first `login`); later calls return at once without a new login, so a caller
   * that only needs a session, not a fresh token, leaves no extra token behind in Vault.
   */
  async start(): Promise<void> {
    if (!this.started) await this.login();
  }

  private async approleLogin() {
    const [roleId, secretId] = await Promise.all([
      readCredential(path.join(this.options.approleDir, 'role_id')),
      readCredential(path.join(this.options.approleDir, 'secret_id')),
    ]);
    registerSecret(secretId);
    const login = await this.client.withToken('', this.options.timeoutMs).approleLogin(roleId, secretId);
    registerSecret(login.token);
    this.options.logger.info('logged in to Vault with AppRole', {
      policies: login.policies,
      ttl_seconds: login.leaseDuration,
      renewable: login.renewable,
    });
    return login;
  }

  /** Kubernetes auth: the pod's projected service-account token is the credential (no AppRole files). */
  private async kubernetesLogin(k8s: { role: string; tokenFile: string }) {
    const jwt = await readCredential(k8s.tokenFile);
    registerSecret(jwt);
    const login = await this.client.withToken('', this.options.timeoutMs).kubernetesLogin(k8s.role, jwt);
    registerSecret(login.token);
    this.options.logger.info('logged in to Vault with Kubernetes auth', {
      role: k8s.role,
      policies: login.policies,
      ttl_seconds: login.leaseDuration,
      renewable: login.renewable,
    });
    return login;
  }

  /**
   * Runs `fn` with the client. When Vault rejects an AppRole token it no longer knows (403), logs in once more
   * and retries once: a token may have been revoked, or a backup restored, while the app ran. When Vault
   * answers 500 while reporting itself healthy, throws a `VaultRefusingError` naming the likely cause.
   */
  async run<T>(fn: (client: VaultClient) => Promise<T>): Promise<T> {
    if (!this.client.token) await this.login();
    try {
      return this.answered(await fn(this.client));
    } catch (err) {
      if (!(err instanceof VaultForbiddenError) || this.options.token) throw await this.refused(err);
      const valid = await this.client.lookupSelf().then(
        () => true,
        () => false,
      );
      if (valid) throw err; // the token is fine: the policy really denies this path
      await this.login();
      try {
        return this.answered(await fn(this.client));
      } catch (retryErr) {
        throw await this.refused(retryErr);
      }
    }
  }

  /** The token's lifetime, for /readyz and /status. */
  tokenState(): LifetimeState {
    return this.watcher.state();
  }

  /** How Vault answered the last authenticated call (a copy). */
  requestsState(): VaultRequestsState {
    return { ...this.requests };
  }

  /**
   * An authenticated call of our own (lookup-self) when nothing else asked Vault for `maxAgeMs`: keeps
   * `requestsState` fresh for /readyz on an idle app without a probe per health check.
   */
  async probeIfIdle(maxAgeMs: number): Promise<void> {
    if (Date.now() - this.requests.lastAnswerAt < maxAgeMs) return;
    await this.run((c) => c.lookupSelf()).catch(() => undefined);
  }

  private answered<T>(value: T): T {
    if (this.requests.status === 'refusing')
      this.options.logger.info('Vault serves authenticated requests again', { previous: this.requests.diagnosis });
    this.requests = { status: 'ok', lastAnswerAt: Date.now() };
    return value;
  }

  private async refused(err: unknown): Promise<unknown> {
    const diagnosed = await diagnoseVaultError(this.client, err);
    if (diagnosed instanceof VaultRefusingError) {
      if (this.requests.status !== 'refusing')
        this.options.logger.error(diagnosed.diagnosis, { cause: 'Vault answered 500 while unsealed', err });
      this.requests = { status: 'refusing', lastAnswerAt: Date.now(), diagnosis: diagnosed.diagnosis };
    } else if (err instanceof AuroraError && err.status < 500 && !(err instanceof VaultForbiddenError)) {
      // Not found, conflict: Vault answered, and served the request as it should.
      this.answered(undefined);
    }
    return diagnosed;
  }

  close(): void {
    this.watcher.stop();
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
