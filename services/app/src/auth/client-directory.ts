/**
 * The Client resources authentication looks up, cached briefly so that an authenticated request needs no
 * PostgreSQL round trip: a bounded entry per Client id in the app's one cache (../cache.ts), each kept
 * CLIENT_CACHE_TTL_SECONDS.
 *
 * Only the resource (its `_secret` reference and `permissions`) is cached, never a secret value: the value is
 * looked up on every authentication through ClientSecrets (file secrets invalidated by their watcher, Vault-held
 * ones by their own TTL and the re-read after a mismatch), so a rotated secret is seen exactly as without this
 * cache. A write or delete of a Client through this app calls `forget`, which also detaches a read in flight, so
 * on this instance a changed or deleted Client is refused from the moment the change is committed. Another
 * replica's change, or one made in PostgreSQL directly, is seen within the TTL. An unknown id is never cached:
 * a Client created elsewhere is accepted at once.
 */
import { TtlLruCache } from '../cache.js';
import type { Resource, ResourceStore } from '../fhir/store.js';

export interface ClientDirectoryOptions {
  /** How long a Client resource read from PostgreSQL is reused, in ms (0: read it on every authentication). */
  ttlMs: number;
  /** At most this many Clients cached, least recently used evicted first. */
  maxEntries: number;
}

export class ClientDirectory {
  private readonly cache: TtlLruCache<string, Resource>;

  constructor(
    private readonly store: ResourceStore,
    options: ClientDirectoryOptions,
  ) {
    this.cache = new TtlLruCache(options.maxEntries, options.ttlMs);
  }

  /** The Client resource `id`, or undefined when there is none (not cached). PostgreSQL errors are thrown. */
  async get(id: string): Promise<Resource | undefined> {
    try {
      // load answers a cached value itself, without calling the loader.
      return await this.cache.load(id, async () => {
        const resource = await this.store.get('Client', id);
        if (resource === undefined) throw new NoSuchClient();
        return resource;
      });
    } catch (err) {
      if (err instanceof NoSuchClient) return undefined;
      throw err;
    }
  }

  /** Forgets Client `id` at once (it was written or deleted), including a read of it in flight. */
  forget(id: string): void {
    this.cache.delete(id);
  }

  clear(): void {
    this.cache.clear();
  }
}

/** A miss shared by concurrent loads and never cached (the cache stores successes only). */
class NoSuchClient extends Error {}
