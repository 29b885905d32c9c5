/**
 * The app's one cache of values read from elsewhere (Vault secrets, PostgreSQL reference rows): bounded,
 * in-process, with single flight.
 *  - least recently used entries are evicted first, and every entry expires `ttlMs` after it was stored. A Map
 *    keeps insertion order, so "move to the end on use" is delete + set and the least recently used entry is
 *    always the first key. No timers: expiry is checked on read;
 *  - `load` shares one load among concurrent misses of a key (single flight), and only a load still registered
 *    when it ends fills the cache: `delete` (a write or delete went through) detaches a load in flight, so a read
 *    that started before the change can never refill the cache with what the change replaced.
 * It lives only in this process's memory: never on disk, in Redis or in PostgreSQL.
 */
export class TtlLruCache<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAt: number }>();
  private readonly inflight = new Map<K, Promise<V>>();

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(maxEntries >= 1)) throw new RangeError('maxEntries must be at least 1');
  }

  /** False when the TTL is 0: nothing is ever stored. */
  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Most recently used goes last.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  /**
   * The cached value of `key`, or the result of `fetch()`: one call at a time per key (concurrent callers
   * share its promise), stored when it succeeds unless `delete`/`clear` came in between. A failure is shared
   * by the callers waiting for it and never cached. `outcome` hears which of the three each call was (metrics).
   */
  load(key: K, fetch: () => Promise<V>, outcome?: (what: 'hit' | 'coalesced' | 'miss') => void): Promise<V> {
    const hit = this.get(key);
    if (hit !== undefined) {
      outcome?.('hit');
      return Promise.resolve(hit);
    }
    const pending = this.inflight.get(key);
    if (pending !== undefined) {
      outcome?.('coalesced');
      return pending;
    }
    outcome?.('miss');
    const promise: Promise<V> = fetch()
      .then((value) => {
        if (this.inflight.get(key) === promise) this.set(key, value);
        return value;
      })
      .finally(() => {
        if (this.inflight.get(key) === promise) this.inflight.delete(key);
      });
    this.inflight.set(key, promise);
    return promise;
  }

  /** Forgets `key` at once: its value and any load in flight (which then cannot fill the cache). */
  delete(key: K): void {
    this.entries.delete(key);
    this.inflight.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.inflight.clear();
  }
}
