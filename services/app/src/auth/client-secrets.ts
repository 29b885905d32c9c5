/**
 * From a Client's secret reference to the value to compare against: a file secret (scope check, then the
 * cached file read) or a Vault KV v2 secret (read with the app's token, cached for CACHE_TTL_SECONDS).
 * The same checks run when a Client is stored, so a reference that cannot work is refused with a 422 then.
 */
import { AuroraError, UnprocessableError, ValidationError, VaultNotFoundError, registerSecret } from '@aurora/common';
import type { VaultSession } from '../vault/session.js';
import { formatScope, scopeIncludes } from '../file-secrets/config.js';
import type { FileSecrets } from '../file-secrets/reader.js';
import { parseSecretRef, type SecretRef } from '../fhir/secret-reference.js';

/** A file secret named by a resource that its scope does not include. */
export class SecretScopeError extends AuroraError {
  readonly scope: string;
  constructor(
    readonly secretName: string,
    scope: string,
    resource: string,
  ) {
    super(
      'secret_out_of_scope',
      422,
      `secret ${secretName} is scoped to ${scope}; ${resource} may not use it (change the scope in SECRETS_CONFIG or reference another secret)`,
    );
    this.scope = scope;
  }
}

/** The Vault secret exists but has no usable key. */
export class SecretKeyMissingError extends AuroraError {
  constructor(reference: string) {
    super(
      'secret_key_missing',
      422,
      `${reference} has no key "client-secret" and more than one other key: name one with #<key>`,
    );
  }
}

export interface ClientSecretsOptions {
  fileSecrets: FileSecrets;
  vault: VaultSession;
  /** The user-credential mount (VAULT_KV_MOUNT): Clients may not authenticate with users' credentials. */
  credentialsMount: string;
  /** Cache of Vault-held Client secrets, in ms (0 = no cache). */
  ttlMs: number;
}

interface Cached {
  value: string;
  expires: number;
}

export class ClientSecrets {
  private readonly cache = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(private readonly options: ClientSecretsOptions) {}

  /**
   * Checks that `text` may serve as the secret of `resourceType/id`; throws the 4xx the route answers with.
   * Used when a Client is stored and again on every authentication.
   */
  check(resourceType: string, id: string, text: string): SecretRef {
    let ref: SecretRef;
    try {
      ref = parseSecretRef(text);
    } catch (err) {
      if (err instanceof ValidationError) throw new UnprocessableError(`_secret: ${err.message}`);
      throw err;
    }
    if (ref.kind === 'file') {
      const entry = this.options.fileSecrets.entry(ref.name);
      if (!entry) {
        const known = [...this.options.fileSecrets.config.secrets.keys()];
        throw new UnprocessableError(
          `_secret: unknown secret name ${JSON.stringify(ref.name)}: SECRETS_CONFIG defines ${known.length ? known.join(', ') : 'no secrets'}; or use a vault:kv/data/<mount>/<path> reference`,
        );
      }
      if (!scopeIncludes(entry.scope, resourceType, id))
        throw new SecretScopeError(entry.name, formatScope(entry.scope), `${resourceType}/${id}`);
    } else if (ref.mount === this.options.credentialsMount) {
      throw new UnprocessableError(
        `_secret: ${ref.mount}/ holds users' credentials; a Client secret must live elsewhere, e.g. vault:kv/data/secret/clients/${id}`,
      );
    }
    return ref;
  }

  /** The value to compare the presented secret with. Never logged, never returned by a route. */
  async valueFor(resourceType: string, id: string, text: string): Promise<string> {
    const ref = this.check(resourceType, id, text);
    if (ref.kind === 'file') return this.options.fileSecrets.read(ref.name);
    const now = Date.now();
    const hit = this.cache.get(ref.text);
    if (hit && hit.expires > now) return hit.value;
    let pending = this.inflight.get(ref.text);
    if (!pending) {
      pending = this.readVault(ref).finally(() => this.inflight.delete(ref.text));
      this.inflight.set(ref.text, pending);
    }
    return pending;
  }

  private async readVault(ref: Extract<SecretRef, { kind: 'vault' }>): Promise<string> {
    const secret = await this.options.vault.run((c) => c.kvRead(ref.mount, ref.path));
    const keys = Object.keys(secret.data);
    const key = ref.key ?? (keys.includes('client-secret') ? 'client-secret' : keys.length === 1 ? keys[0] : undefined);
    if (key === undefined) throw new SecretKeyMissingError(ref.text);
    const value = secret.data[key];
    if (typeof value !== 'string' || value === '') throw new VaultNotFoundError(`${ref.mount}/${ref.path}#${key}`);
    registerSecret(value);
    if (this.options.ttlMs > 0) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(ref.text, { value, expires: Date.now() + this.options.ttlMs });
    }
    return value;
  }

  /** Forget a cached Vault value (after a Client changed or a comparison failed). */
  forget(text: string): void {
    this.cache.delete(text);
  }
}
