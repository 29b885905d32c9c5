/**
 * Database credentials from Vault's database secrets engine as a `LifetimeSource`, so that one watcher keeps
 * tokens and leases alike: renew the lease (sys/leases/renew) while renewing extends it, obtain new
 * credentials (`<mount>/creds/<role>`) when the max TTL caps it, and hand each new set to `use` before
 * anything relies on it (the app moves its pool to it).
 *
 * Vault facts used (api-docs/system/leases, api-docs/secret/databases): a read of `creds/<role>` answers
 * `lease_id`, `lease_duration` (seconds) and `renewable`; a renewal answers the new `lease_duration`, shorter
 * than asked when the role's max TTL caps it; a lease Vault no longer knows answers 400 "lease not found"
 * (or 403 when the token may not see it).
 */
import type { Lifetime, LifetimeSource } from './lifetime-watcher.js';
import { VaultForbiddenError, VaultNotFoundError, VaultRequestError } from './errors.js';
import type { DatabaseCredentials } from './vault/database.js';
import type { VaultClient } from './vault-client.js';

export class DatabaseCredentialsLifetime implements LifetimeSource {
  readonly name: string;
  private current?: DatabaseCredentials;

  /**
   * @param clientOf the client to ask (or a function answering it: its token may be replaced by a login)
   * @param mount where the database secrets engine is mounted (`database`)
   * @param role the Vault role whose credentials are leased
   * @param use receives each new set of credentials, and the one it replaces; resolves once the new set is in
   *   use (the old lease is the caller's to revoke when nothing uses it any more)
   */
  constructor(
    private readonly clientOf: VaultClient | (() => VaultClient),
    private readonly mount: string,
    readonly role: string,
    private readonly use: (next: DatabaseCredentials, previous: DatabaseCredentials | undefined) => Promise<void>,
  ) {
    this.name = `the PostgreSQL user leased from Vault (${mount}/creds/${role})`;
  }

  private get client(): VaultClient {
    return typeof this.clientOf === 'function' ? this.clientOf() : this.clientOf;
  }

  /** The lease in use, if any (its id names the role, never the password). */
  get leaseId(): string | undefined {
    return this.current?.leaseId;
  }

  async lookup(): Promise<Lifetime> {
    if (!this.current) throw new Error(`${this.name}: nothing obtained yet`);
    const res = await this.client.write<{ data: { ttl: number; renewable: boolean } }>('sys/leases/lookup', {
      lease_id: this.current.leaseId,
    });
    return { ttlSeconds: res.data.ttl, renewable: res.data.renewable };
  }

  async renew(): Promise<Lifetime> {
    if (!this.current) throw new Error(`${this.name}: nothing obtained yet`);
    const res = await this.client.renewLease(this.current.leaseId);
    return { ttlSeconds: res.leaseDuration, renewable: res.renewable };
  }

  async obtain(): Promise<Lifetime> {
    const next = await this.client.database(this.mount).credentials(this.role);
    const previous = this.current;
    await this.use(next, previous);
    this.current = next;
    return { ttlSeconds: next.leaseDuration, renewable: next.renewable };
  }

  /** Vault no longer knows the lease (expired while Vault was away, revoked by hand): only new credentials help. */
  isGone(err: unknown): boolean {
    return (
      err instanceof VaultForbiddenError ||
      err instanceof VaultNotFoundError ||
      (err instanceof VaultRequestError &&
        err.vaultStatus === 400 &&
        /lease not found|invalid lease/i.test(err.vaultMessage))
    );
  }
}
