/**
 * A Vault token as a `LifetimeSource`: lookup-self and renew-self with the token the client holds, and, when a
 * login method is given (AppRole today, Kubernetes auth later), a new login swapped into the client in one
 * assignment, so a request in flight uses either the old token (still valid: the swap happens before it
 * expires) or the new one.
 *
 * Vault facts used (auth/token API): lookup-self answers `ttl` (seconds left, 0 = none), `renewable`,
 * `explicit_max_ttl` and `issue_time`; renew-self answers `auth.lease_duration` and, when the max TTL capped
 * it, a warning naming `max_ttl`.
 */
import type { Lifetime, LifetimeSource } from './lifetime-watcher.js';
import { VaultForbiddenError } from './errors.js';
import { diagnoseVaultError } from './vault-diagnosis.js';
import type { LoginResult, VaultClient } from './vault-client.js';

/** Logs in and answers the new token and its lifetime; must not touch the client it is given. */
export type TokenLogin = () => Promise<LoginResult>;

interface LookupSelf {
  data: { ttl: number; renewable: boolean; explicit_max_ttl?: number; issue_time?: string };
}

interface RenewSelf {
  auth: { lease_duration: number; renewable: boolean };
  warnings?: string[] | null;
}

export class TokenLifetime implements LifetimeSource {
  /**
   * @param clientOf the client whose `token` is watched (and replaced after a login), or a function answering
   *   it (a cluster: the node currently used)
   * @param name how logs and status name the token
   * @param login present when a new token can be obtained; absent for a static token
   * @param onNewToken called with each token a login produced, before it is used (e.g. to register it with
   *   the redacting logger)
   */
  constructor(
    private readonly clientOf: VaultClient | (() => VaultClient),
    readonly name: string,
    private readonly login?: TokenLogin,
    private readonly onNewToken?: (token: string) => void,
  ) {
    if (login) this.obtain = this.doObtain.bind(this);
  }

  readonly obtain?: () => Promise<Lifetime>;

  private get client(): VaultClient {
    return typeof this.clientOf === 'function' ? this.clientOf() : this.clientOf;
  }

  async lookup(): Promise<Lifetime> {
    const { data } = await this.client.read<LookupSelf>('auth/token/lookup-self').catch(this.diagnose);
    const lifetime: Lifetime = { ttlSeconds: data.ttl, renewable: data.renewable };
    if (data.explicit_max_ttl && data.issue_time) {
      const end = Date.parse(data.issue_time) + data.explicit_max_ttl * 1000;
      if (Number.isFinite(end)) lifetime.maxTtlSeconds = Math.max(0, Math.floor((end - Date.now()) / 1000));
    }
    return lifetime;
  }

  async renew(): Promise<Lifetime> {
    const res = await this.client.write<RenewSelf>('auth/token/renew-self', {}).catch(this.diagnose);
    return {
      ttlSeconds: res.auth.lease_duration,
      renewable: res.auth.renewable,
      ...(res.warnings?.length ? { warnings: res.warnings } : {}),
    };
  }

  private async doObtain(): Promise<Lifetime> {
    const result = await this.login!();
    this.onNewToken?.(result.token);
    // One assignment: every request started after this line carries the new token.
    this.client.token = result.token;
    return { ttlSeconds: result.leaseDuration, renewable: result.renewable };
  }

  /** Rethrows `err`, with the likely cause named when Vault only says "internal error". */
  private readonly diagnose = async (err: unknown): Promise<never> => {
    throw await diagnoseVaultError(this.client, err);
  };

  /** A 403 on lookup-self or renew-self: Vault no longer knows the token (expired, revoked, restored backup). */
  isGone(err: unknown): boolean {
    return err instanceof VaultForbiddenError;
  }
}
