/**
 * From a Client's secret reference to the value to compare against: a file secret (scope check, then the
 * cached file read) or a Vault KV v2 secret (read with the app's token, cached for CACHE_TTL_SECONDS in the app's
 * one cache, ../cache.ts, whose single flight makes concurrent authentications of a cold Client one Vault read).
 * The same checks run when a Client is stored, so a reference that cannot work is refused with a 422 then.
 * Whatever the source, the value handed out has gone through the one comparison rule (client-secret-rule.ts).
 */
import crypto from 'node:crypto';
import {
  AuroraError,
  UnprocessableError,
  ValidationError,
  VaultForbiddenError,
  VaultNotFoundError,
  registerSecret,
  stackCommands,
  type Logger,
} from '@aurora/common';
import { ComparableSecret, storedSecretOddities } from './client-secret-rule.js';
import { TtlLruCache } from '../cache.js';
import type { VaultSession } from '../vault/session.js';
import { formatScope, scopeIncludes } from '../file-secrets/config.js';
import type { FileSecrets } from '../file-secrets/reader.js';
import { parseSecretRef, type SecretRef } from '../fhir/secret-reference.js';
import { processHmacKey } from './process-key.js';

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
  /** Cache of Vault-held Client secrets, in ms (0 = no cache; concurrent reads are still shared). */
  ttlMs: number;
  /** At most this many Vault-held Client secrets cached (least recently used evicted first); 10 000 by default. */
  maxEntries?: number;
  /**
   * At most one forced re-read of a Vault-held secret per reference in this many ms (after a failed
   * comparison, to see a rotation before the cache expires): wrong guesses cannot turn into Vault load.
   */
  rereadIntervalMs?: number;
  /** Where odd stored values are pointed out (never the value). */
  logger?: Logger;
}

/** A stored value and its comparable form, made together (once per value read). */
interface Held {
  stored: string;
  comparable: ComparableSecret;
}

export class ClientSecrets {
  /** Secret reference text → the Vault-held value and its comparable form. */
  private readonly cache: TtlLruCache<string, Held>;
  /**
   * File secret reference text → the file reader's current value and its comparable form, replaced when the
   * reader's value changes: what the reader holds, plus its normalized form and digests.
   */
  private readonly files = new Map<string, Held>();
  private readonly lastReread = new Map<string, number>();
  /** Per reference, a keyed digest of the last value whose oddities were logged: one line per value. */
  private readonly reported = new Map<string, string>();
  private readonly digestKey = processHmacKey();

  constructor(private readonly options: ClientSecretsOptions) {
    this.cache = new TtlLruCache(options.maxEntries ?? 10_000, options.ttlMs);
  }

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

  /**
   * Refuses (422) a `vault:` reference whose secret the app cannot read now: nothing at that path (or its current
   * version deleted), no usable key, or a path the app's policy does not cover. A Client stored with it could only
   * ever answer 401, with the cause in the log alone; the walkthroughs put the secret in Vault before the Client,
   * and the app reads Vault directly (nothing renders it later, unlike a file secret), so a missing secret is
   * almost always a wrong path. Vault unreachable or sealed is not the reference's fault: that error (503) goes
   * up as it is. The value read is neither kept nor cached. A file secret is not read here: it may be missing
   * until the agent renders it.
   */
  async assertReadable(ref: SecretRef): Promise<void> {
    if (ref.kind !== 'vault') return;
    const kvPut = `${stackCommands().vaultCli} kv put ${ref.mount}/${ref.path} ${ref.key ?? 'client-secret'}=<value>`;
    try {
      await this.readVault(ref);
    } catch (err) {
      if (err instanceof SecretKeyMissingError) throw new UnprocessableError(`_secret: ${err.message}`);
      if (err instanceof VaultNotFoundError)
        throw new UnprocessableError(
          ref.key === undefined
            ? `_secret: ${ref.text}: Vault holds no secret at ${ref.mount}/${ref.path} (or its current version is deleted); ` +
                `put it there first (${kvPut}), then PUT the Client again`
            : `_secret: ${ref.text}: Vault holds no non-empty key "${ref.key}" at ${ref.mount}/${ref.path}; ` +
                `put it there first (${kvPut}), then PUT the Client again`,
        );
      if (err instanceof VaultForbiddenError)
        throw new UnprocessableError(
          `_secret: ${ref.text}: the app's Vault policy does not allow reading ${ref.mount}/${ref.path}; ` +
            'keep Client secrets under secret/ (policy aurora-app reads secret/data/*), e.g. vault:kv/data/secret/clients/<id>',
        );
      throw err;
    }
  }

  /**
   * The stored secret to compare the presented one with, after the comparison rule (comparableStoredSecret).
   * Never logged, never returned by a route.
   */
  async valueFor(resourceType: string, id: string, text: string): Promise<ComparableSecret> {
    const ref = this.check(resourceType, id, text);
    const held =
      ref.kind === 'file'
        ? this.heldFile(text, await this.options.fileSecrets.read(ref.name))
        : await this.cache.load(ref.text, async () => this.hold(text, await this.readVault(ref)));
    const { value } = held.comparable;
    // Only CR/LF stored: nothing is left to compare, and an empty password must never match it.
    if (value === '') throw new UnprocessableError(`${text}: the stored secret is empty (only CR/LF)`);
    // The form compared is a secret too (log masking keeps a bounded set: registered on each use).
    if (value !== held.stored) registerSecret(value);
    return held.comparable;
  }

  private heldFile(text: string, stored: string): Held {
    let held = this.files.get(text);
    if (held?.stored !== stored) {
      held = this.hold(text, stored);
      if (this.files.size >= 10_000) this.files.clear();
      this.files.set(text, held);
    }
    return held;
  }

  /** A value just read: its comparable form, and one log line per value when it looks accidental. */
  private hold(text: string, stored: string): Held {
    this.reportOddities(text, stored);
    return { stored, comparable: new ComparableSecret(stored) };
  }

  private reportOddities(text: string, stored: string): void {
    const digest = crypto.createHmac('sha256', this.digestKey).update(stored, 'utf8').digest('base64');
    if (this.reported.get(text) === digest) return;
    if (this.reported.size > 10_000) this.reported.clear();
    this.reported.set(text, digest);
    const oddities = storedSecretOddities(stored);
    if (oddities.length)
      this.options.logger?.warn(
        'a stored Client secret has characters that look accidental; check how it was written (the value is not logged)',
        { ref: text, found: oddities },
      );
  }

  private async readVault(ref: Extract<SecretRef, { kind: 'vault' }>): Promise<string> {
    const secret = await this.options.vault.run((c) => c.kvRead(ref.mount, ref.path));
    const keys = Object.keys(secret.data);
    const key = ref.key ?? (keys.includes('client-secret') ? 'client-secret' : keys.length === 1 ? keys[0] : undefined);
    if (key === undefined) throw new SecretKeyMissingError(ref.text);
    const value = secret.data[key];
    if (typeof value !== 'string' || value === '') throw new VaultNotFoundError(`${ref.mount}/${ref.path}#${key}`);
    registerSecret(value);
    return value;
  }

  /** Forget a held value and detach a Vault read of it in flight (after a Client or its secret changed). */
  forget(text: string): void {
    this.cache.delete(text);
    this.files.delete(text);
  }

  /**
   * After a failed comparison against a Vault-held secret: forget the cached value so that the next
   * `valueFor` reads Vault again (a rotation shows before the cache expires; a read already in flight, which may
   * predate the rotation, is not shared), at most once per `rereadIntervalMs` per reference. True when the
   * re-read is allowed (the caller then compares again).
   */
  rereadAfterMismatch(text: string): boolean {
    const now = Date.now();
    const last = this.lastReread.get(text);
    if (last !== undefined && now - last < (this.options.rereadIntervalMs ?? 2000)) return false;
    if (this.lastReread.size > 10_000) this.lastReread.clear();
    this.lastReread.set(text, now);
    this.cache.delete(text);
    return true;
  }
}
