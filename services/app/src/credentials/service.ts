/**
 * User credentials: the logic between the routes and the two stores (Vault holds values, PostgreSQL holds
 * `vault:` references). Routes validate and call in; compensation lives here and nowhere else.
 *
 * Write order and why (PUT):
 *   1. Lock: a transaction with the credential's advisory lock, reading its row (BEGIN and the read in one
 *      round trip). PostgreSQL down → 503 before Vault is touched, so the common outage leaves nothing behind.
 *   2. For an update, read the current value (kept in memory only, to undo step 3 if step 4 fails).
 *   3. Write the secret to Vault (KV v2; If-Match → check-and-set).
 *   4. Upsert the row and commit.
 *   If 4 fails (PostgreSQL died between 3 and 4), compensate in Vault, still under the lock when the
 *   connection lives and while still holding the value: an update gets its previous value written back
 *   (check-and-set on the version this write created, so a later write is never overwritten); a new
 *   credential gets exactly the version this write created destroyed (KV v2 `destroy` with `versions: [n]`),
 *   never older versions that may still be given back, and its metadata deleted only when no version is
 *   left that Vault could give back. Vault first, row second, because the opposite order would publish a
 *   reference whose secret may never arrive. What survives only a crash of this process between 3 and 4 is
 *   a secret with no row: an orphan, which `doctor` lists and `--repair` destroys. doctor takes the same
 *   locks, so it never destroys a secret whose row is being committed.
 *
 * Delete order (the user asked for the credential to go, every version of it): lock, delete the row
 * (uncommitted), destroy all versions in Vault, commit. Vault failing
 * → rollback, nothing changed, 503. Commit failing after the destroy → a row without a secret (dangling),
 * which `doctor --repair` removes. Resolving it meanwhile is a clear 404, never a wrong value.
 *
 * Reads of values (resolve) go through the resolver's cache; writes and deletes invalidate it at once.
 */
import {
  ConflictError,
  NotFoundError,
  VaultConflictError,
  VaultNotFoundError,
  formatCredentialReference,
  type CredentialReference,
  type Logger,
} from '@aurora/common';
import type { VaultSession } from '../vault/session.js';
import { TtlLruCache } from '../cache.js';
import { CredentialResolver, retrySealed, type ResolvedCredential } from './resolver.js';
import { secretState } from './recovery.js';
import { CredentialStore, type CredentialLock, type CredentialRow } from './store.js';

export interface CredentialView {
  reference: string;
  user_id: string;
  credential_type: string;
  /** The version `If-Match` is compared with: Vault's current one where it was asked (single GET, PUT). */
  version: number;
  /**
   * Present only when PostgreSQL's row records another version than Vault's current one (a change made in Vault
   * outside the app, or a restore of one store only): what the row says. `make doctor` lists it, REPAIR=1 fixes it.
   */
  recorded_version?: number;
  created_at: string;
  updated_at: string;
}

export interface PutResult {
  credential: CredentialView;
  created: boolean;
}

export interface CredentialsServiceOptions {
  mount: string;
  base: string;
  /**
   * How long a (user, type) → reference row read from PostgreSQL is cached, in s (0 = not cached);
   * independent of the value cache's TTL (REFERENCE_CACHE_TTL_SECONDS).
   */
  referenceTtlSeconds: number;
  maxEntries: number;
}

export function viewOf(row: CredentialRow): CredentialView {
  return {
    reference: row.reference,
    user_id: row.userId,
    credential_type: row.credentialType,
    version: row.version,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export class CredentialsService {
  /**
   * (user, type) → reference, so that a resolve needs no PostgreSQL round trip, with its own TTL: with value
   * caching off (CACHE_TTL_SECONDS=0) a resolve still costs Vault only. Every write and delete through this
   * service forgets the entry and detaches a row read in flight. What it cannot see (another replica's write,
   * doctor's repair) cannot make it serve a wrong value: a reference names exactly one Vault path, whose
   * current value is read from Vault, and one that Vault no longer serves is checked against PostgreSQL again.
   */
  private readonly references: TtlLruCache<string, string>;

  constructor(
    private readonly store: CredentialStore,
    private readonly vault: VaultSession,
    readonly resolver: CredentialResolver,
    private readonly logger: Logger,
    private readonly options: CredentialsServiceOptions,
  ) {
    this.references = new TtlLruCache(options.maxEntries, options.referenceTtlSeconds * 1000);
  }

  referenceFor(userId: string, credentialType: string): string {
    return formatCredentialReference({ mount: this.options.mount, base: this.options.base, userId, credentialType });
  }

  async list(userId: string): Promise<CredentialView[]> {
    return (await this.store.list(userId)).map(viewOf);
  }

  /**
   * One credential's metadata, with `version` = Vault's current version (what a following `If-Match` is compared
   * with, so that the ETag built from it is one a PUT accepts), and `recorded_version` when the row says otherwise.
   * Reads Vault's metadata, never a value. When Vault cannot answer, the row's version is returned and `confirmed`
   * is false (the route then sends no ETag: it could not be checked).
   */
  async get(userId: string, credentialType: string): Promise<{ credential: CredentialView; confirmed: boolean }> {
    const row = await this.store.get(userId, credentialType);
    if (!row) throw missing(userId, credentialType);
    const view = viewOf(row);
    let current: number | undefined;
    try {
      current = await this.currentVersion(row.reference);
    } catch (err) {
      this.logger.warn('credential metadata: Vault did not answer; the recorded version is shown unconfirmed', {
        reference: row.reference,
        err,
      });
      return { credential: view, confirmed: false };
    }
    if (current === undefined || current === row.version) return { credential: view, confirmed: true };
    return { credential: { ...view, version: current, recorded_version: row.version }, confirmed: true };
  }

  /** Vault's current version of `reference` (KV v2 metadata `current_version`); undefined when Vault has none. */
  private async currentVersion(reference: string): Promise<number | undefined> {
    const { meta } = await this.metadataOf(reference);
    return meta?.current_version || undefined;
  }

  /** The KV metadata of `reference`'s secret (undefined when Vault has none) with its mount and path. */
  private async metadataOf(reference: string) {
    const ref = this.resolver.ownReference(reference);
    const path = this.resolver.pathOf(ref);
    const meta = await retrySealed(() => this.vault.run((c) => c.kvMetadata(ref.mount, path))).catch((err: unknown) => {
      if (err instanceof VaultNotFoundError) return undefined;
      throw err;
    });
    return { mount: ref.mount, path, meta };
  }

  /**
   * The 409 for an `If-Match` Vault's check-and-set refused, naming the version it holds (read again now: metadata
   * only) and where a client gets it, and saying so when the row records another one.
   */
  private async staleIfMatch(
    userId: string,
    credentialType: string,
    reference: string,
    ifMatch: number,
    recorded: number | undefined,
  ): Promise<ConflictError> {
    const current = await this.currentVersion(reference).catch(() => undefined);
    const where = `GET /users/${userId}/credentials/${credentialType} answers it in its ETag`;
    if (current === undefined)
      return new ConflictError(`If-Match: ${ifMatch} does not match the current version in Vault; ${where}`);
    if (ifMatch === 0)
      return new ConflictError(
        `If-Match: 0 (create only if absent) but the ${credentialType} credential of user ${userId} exists, at version ${current}; ${where}`,
      );
    const behind =
      recorded !== undefined && recorded !== current
        ? ` (the app's record says ${recorded}: the secret was changed in Vault outside the app; \`make doctor\` lists it, \`make doctor REPAIR=1\` records version ${current})`
        : '';
    return new ConflictError(
      `If-Match: ${ifMatch} but the current version of the ${credentialType} credential of user ${userId} is ${current}${behind}; ` +
        `send If-Match: ${current} after checking it, ${where}`,
    );
  }

  async put(
    userId: string,
    credentialType: string,
    data: Record<string, string>,
    ifMatch?: number,
  ): Promise<PutResult> {
    const lock = await this.store.lock(userId, credentialType);
    let written: number | undefined;
    let previous: Record<string, string> | undefined;
    let reference = '';
    try {
      const existing = lock.existing;
      // A reference stays where it points; one outside the configured mount/base is refused (403).
      reference = existing?.reference ?? this.referenceFor(userId, credentialType);
      const ref = this.resolver.ownReference(reference);
      const path = this.resolver.pathOf(ref);
      if (ifMatch !== undefined && ifMatch > 0 && !existing) {
        throw new ConflictError(
          `If-Match: ${ifMatch} but user ${userId} has no ${credentialType} credential; send If-Match: 0 to create it only if absent`,
        );
      }
      if (existing) {
        previous = await retrySealed(() => this.vault.run((c) => c.kvRead(ref.mount, path))).then(
          (s) => s.data,
          (err: unknown) => {
            if (err instanceof VaultNotFoundError) return undefined;
            throw err;
          },
        );
      }
      const meta = await retrySealed(() => this.vault.run((c) => c.kvWrite(ref.mount, path, data, ifMatch))).catch(
        async (err: unknown) => {
          if (!(err instanceof VaultConflictError) || ifMatch === undefined) throw err;
          throw await this.staleIfMatch(userId, credentialType, reference, ifMatch, existing?.version);
        },
      );
      written = meta.version;
      this.forget(userId, credentialType, reference);
      const { row, created } = await lock.upsert(reference, meta.version);
      await lock.commit();
      this.forget(userId, credentialType, reference);
      return { credential: viewOf(row), created };
    } catch (err) {
      // Compensate before the rollback: while the connection lives, the lock keeps other writers out.
      if (written !== undefined) await this.compensatePut(lock, reference, previous, written);
      await lock.rollback();
      throw err;
    }
  }

  /**
   * Undoes the Vault write of version `written` whose row did not commit; on failure, says what doctor will
   * find. Touches nothing but what that write created.
   */
  private async compensatePut(
    lock: CredentialLock,
    reference: string,
    previous: Record<string, string> | undefined,
    written: number,
  ): Promise<void> {
    this.forget(lock.userId, lock.credentialType, reference);
    const ref = this.resolver.ownReference(reference);
    const path = this.resolver.pathOf(ref);
    try {
      if (lock.existing && previous) {
        try {
          await retrySealed(() => this.vault.run((c) => c.kvWrite(ref.mount, path, previous, written)));
          this.logger.warn(
            'credential write undone: the reference row could not be saved, the previous value was written back',
            { reference },
          );
        } catch (err) {
          if (!(err instanceof VaultConflictError)) throw err;
          this.logger.warn('credential write not undone: a newer version followed it in Vault; left as is', {
            reference,
            version: written,
          });
        }
      } else {
        await this.destroyVersion(ref, path, written);
        this.logger.warn(
          'credential write undone: the reference row could not be saved, the version it wrote was destroyed',
          { reference, version: written },
        );
      }
    } catch (err) {
      this.logger.error(
        'could not undo a credential write; `make doctor` will list it and `make doctor REPAIR=1` repairs it',
        { reference, err },
      );
    } finally {
      this.forget(lock.userId, lock.credentialType, reference);
    }
  }

  /**
   * Destroys version `version` of `<mount>/<path>` (KV v2 `POST <mount>/destroy/<path>`, `versions: [n]`), then
   * deletes the metadata only if no version is left that Vault could give back (no orphan made of destroyed
   * versions for doctor to list).
   */
  private async destroyVersion(ref: CredentialReference, path: string, version: number): Promise<void> {
    await retrySealed(() => this.vault.run((c) => c.write(`${ref.mount}/destroy/${path}`, { versions: [version] })));
    const meta = await retrySealed(() => this.vault.run((c) => c.kvMetadata(ref.mount, path))).catch((err: unknown) => {
      if (err instanceof VaultNotFoundError) return undefined;
      throw err;
    });
    if (meta && meta.current_version === version && secretState(meta, ref.mount, path).condition === 'gone')
      await retrySealed(() => this.vault.run((c) => c.kvDestroyAll(ref.mount, path)));
  }

  async delete(userId: string, credentialType: string): Promise<void> {
    const lock = await this.store.lock(userId, credentialType);
    try {
      const existing = lock.existing;
      if (!existing) throw missing(userId, credentialType);
      const ref = this.resolver.ownReference(existing.reference);
      await lock.delete();
      await retrySealed(() => this.vault.run((c) => c.kvDestroyAll(ref.mount, this.resolver.pathOf(ref))));
      this.forget(userId, credentialType, existing.reference);
      await lock.commit();
    } catch (err) {
      await lock.rollback();
      throw err;
    } finally {
      // Whatever happened, nothing cached may outlive a delete attempt.
      this.forget(userId, credentialType, lock.existing?.reference);
    }
  }

  /** The runtime resolution: reference from PostgreSQL (or its cache), value from the resolver. */
  async resolve(userId: string, credentialType: string): Promise<ResolvedCredential> {
    const key = `${userId}/${credentialType}`;
    const reference = await this.references.load(key, async () => {
      const row = await this.store.get(userId, credentialType);
      if (!row) throw missing(userId, credentialType);
      return row.reference;
    });
    try {
      return await this.resolver.resolve(reference);
    } catch (err) {
      if (!(err instanceof VaultNotFoundError)) throw err;
      // A cached reference may belong to a row deleted where this process could not see it (another replica):
      // ask PostgreSQL before calling it dangling, so a deleted credential is a plain 404 here as everywhere.
      this.references.delete(key);
      const row = await this.store.get(userId, credentialType);
      if (!row) throw missing(userId, credentialType);
      throw await this.danglingError(userId, credentialType, row.reference);
    }
  }

  /**
   * The 404 for a reference whose current version Vault does not serve, saying which of three cases it is
   * (credentials/recovery.ts): soft-deleted, destroyed with an older version intact, or nothing left. Each
   * recoverable case names the `vault` command that gives the secret back. Reads metadata only, never a value.
   */
  private async danglingError(userId: string, credentialType: string, reference: string): Promise<NotFoundError> {
    const what = `the ${credentialType} credential of user ${userId}`;
    const { mount, path, meta } = await this.metadataOf(reference);
    const state = secretState(meta, mount, path);
    if (state.condition === 'current-deleted')
      return new NotFoundError(
        `${what}: its current version (${state.current}) is deleted in Vault (a soft delete, recoverable): \`${state.command}\` gives it back; \`make doctor\` lists it`,
      );
    if (state.condition === 'current-destroyed')
      return new NotFoundError(
        `${what}: its current version (${state.current}) is destroyed in Vault, version ${state.recoverVersion} is intact: \`${state.command}\` makes it current again; \`make doctor\` lists it`,
      );
    if (state.condition === 'live')
      return new NotFoundError(`${what} was not readable in Vault a moment ago and is again now: retry`);
    return new NotFoundError(
      `${what} has a reference but nothing left in Vault (a dangling reference); run \`make doctor\`, and \`make doctor REPAIR=1\` removes the reference`,
    );
  }

  private forget(userId: string, credentialType: string, reference: string | undefined): void {
    this.references.delete(`${userId}/${credentialType}`);
    if (reference) this.resolver.invalidate(reference);
  }

  close(): void {
    this.references.clear();
    this.resolver.clear();
  }
}

function missing(userId: string, credentialType: string): NotFoundError {
  return new NotFoundError(`user ${userId} has no ${credentialType} credential`);
}
