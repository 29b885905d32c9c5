/**
 * Runtime resolution of `vault:` references: the only code that reads credential values from Vault.
 *
 *  - follows only references under the configured mount and base (`vault:kv/data/<mount>/<base>/<user>/<type>`);
 *    anything else is refused (the Vault policy would deny it too, but we do not even ask);
 *  - the app's cache (../cache.ts): bounded LRU with a TTL (CACHE_TTL_SECONDS, 0 = off), in this process's memory
 *    only, and single flight: concurrent misses for the same reference share one Vault request;
 *  - `invalidate` drops the entry and detaches any read in flight, so a write or delete through the app is
 *    seen by the next resolve at once (a read that started before the write cannot refill the cache);
 *  - a sealed Vault is retried briefly (vault-init unseals within seconds), then surfaces as a 503.
 */
import { ForbiddenError, VaultSealedError, parseCredentialReference, type CredentialReference } from '@aurora/common';
import type { VaultSession } from '../vault/session.js';
import { TtlLruCache } from '../cache.js';
import { countResolve } from '../telemetry/metrics.js';

export interface ResolvedCredential {
  readonly reference: string;
  readonly version: number;
  readonly data: Readonly<Record<string, string>>;
}

export interface ResolverOptions {
  mount: string;
  base: string;
  ttlSeconds: number;
  maxEntries: number;
}

/** Delays between attempts while Vault answers "sealed". */
const SEALED_RETRY_DELAYS_MS = [100, 300];

export async function retrySealed<T>(
  fn: () => Promise<T>,
  delays: readonly number[] = SEALED_RETRY_DELAYS_MS,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const delay = delays[attempt];
      if (!(err instanceof VaultSealedError) || delay === undefined) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

export class CredentialResolver {
  private readonly cache: TtlLruCache<string, ResolvedCredential>;

  constructor(
    private readonly vault: VaultSession,
    private readonly options: ResolverOptions,
  ) {
    this.cache = new TtlLruCache(options.maxEntries, options.ttlSeconds * 1000);
  }

  /**
   * Parses `reference` and checks that it is one of ours: configured mount, configured base, then exactly
   * `<user_id>/<credential_type>`. Throws a 403 naming the rule otherwise.
   */
  ownReference(reference: string): CredentialReference {
    let parsed: CredentialReference;
    try {
      parsed = parseCredentialReference(reference);
    } catch {
      throw new ForbiddenError(
        'the stored reference is not a credential reference; the resolver refuses it (run `make doctor`)',
      );
    }
    const { mount, base } = this.options;
    if (parsed.mount !== mount || parsed.base !== base) {
      throw new ForbiddenError(
        `the stored reference points outside vault:kv/data/${mount}/${base}/; the resolver follows only references under the configured VAULT_KV_MOUNT and VAULT_KV_BASE_PATH`,
      );
    }
    return parsed;
  }

  /** The path of a reference inside its mount (`<base>/<user>/<type>`). */
  pathOf(ref: CredentialReference): string {
    return `${ref.base}/${ref.userId}/${ref.credentialType}`;
  }

  /** The value of `reference`: from the cache, or one Vault read shared by every concurrent miss. */
  resolve(reference: string): Promise<ResolvedCredential> {
    return this.cache.load(reference, () => this.read(reference), countResolve);
  }

  private async read(reference: string): Promise<ResolvedCredential> {
    const ref = this.ownReference(reference);
    const path = this.pathOf(ref);
    const secret = await retrySealed(() => this.vault.run((c) => c.kvRead(ref.mount, path)));
    return Object.freeze({ reference, version: secret.version, data: Object.freeze({ ...secret.data }) });
  }

  /** Forgets `reference` at once: the cached value and any read in flight. */
  invalidate(reference: string): void {
    this.cache.delete(reference);
  }

  clear(): void {
    this.cache.clear();
  }
}
