/**
 * Failed-authentication limiter: after `maxFailures` failures within `windowSeconds` from one address or for
 * one client id, further attempts (right or wrong) are refused with 429 until the window ends. Nothing is
 * reset by a success, so a valid Client cannot be used to clear an address's record while guessing another.
 * Bounded memory: at most `maxKeys` records; the oldest window goes first.
 */
export interface LimiterOptions {
  maxFailures: number;
  windowSeconds: number;
  maxKeys?: number;
  now?: () => number;
}

interface Window {
  start: number;
  failures: number;
  reported?: boolean;
}

export class FailureLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(private readonly options: LimiterOptions) {
    this.windowMs = options.windowSeconds * 1000;
    this.maxKeys = options.maxKeys ?? 50_000;
    this.now = options.now ?? Date.now;
  }

  private current(key: string, now: number): Window | undefined {
    const w = this.windows.get(key);
    if (w && now - w.start >= this.windowMs) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }

  /** Seconds to wait when any of `keys` is over the limit; 0 when the attempt may proceed. */
  blockedFor(keys: string[]): number {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const w = this.current(key, now);
      if (w && w.failures >= this.options.maxFailures)
        wait = Math.max(wait, Math.ceil((w.start + this.windowMs - now) / 1000));
    }
    return wait;
  }

  /** True once per window for a blocked key: log the first refusal, not every one (an attack floods logs). */
  firstRefusal(keys: string[]): boolean {
    const now = this.now();
    let first = false;
    for (const key of keys) {
      const w = this.current(key, now);
      if (w && w.failures >= this.options.maxFailures && !w.reported) {
        w.reported = true;
        first = true;
      }
    }
    return first;
  }

  fail(keys: string[]): void {
    const now = this.now();
    for (const key of keys) {
      const w = this.current(key, now);
      if (w) {
        w.failures++;
        continue;
      }
      if (this.windows.size >= this.maxKeys) this.evict(now);
      this.windows.set(key, { start: now, failures: 1 });
    }
  }

  private evict(now: number): void {
    for (const [key, w] of this.windows) {
      if (now - w.start >= this.windowMs) this.windows.delete(key);
    }
    // Still full: drop the oldest (Map keeps insertion order).
    while (this.windows.size >= this.maxKeys) {
      const oldest = this.windows.keys().next().value;
      if (oldest === undefined) break;
      this.windows.delete(oldest);
    }
  }

  get size(): number {
    return this.windows.size;
  }
}
