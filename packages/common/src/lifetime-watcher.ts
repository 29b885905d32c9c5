/**
 * One watcher for anything Vault hands out with a lifetime: a token (AppRole login, a static VAULT_TOKEN,
 * vault-init's own token) today, a Kubernetes-auth token or a database lease tomorrow. What is watched plugs in
 * as a `LifetimeSource` (look up, renew, and optionally obtain a new one); the watcher owns the schedule:
 *
 * - renew at two thirds of the TTL (Vault's own agent renews at the same point);
 * - when renewing no longer extends the lifetime (the max TTL caps it: Vault answers a shorter TTL and a
 *   "capped" warning), obtain a new one at once; when it is not renewable, at two thirds of its TTL: either way
 *   the swap happens before the hard expiry instead of after the first 403;
 * - when that is impossible (a static token at its max TTL), say so loudly, once, with the expiry time;
 * - a failed attempt is retried sooner and sooner as expiry nears, never in a busy loop;
 * - `state()` tells /readyz and status pages how many seconds are left and what is going wrong.
 *
 * Times are wall-clock milliseconds (Date.now) on our side; Vault's TTLs are seconds.
 */
import type { Logger } from './logger.js';

/** One answer about a lifetime, as Vault gives it (lookup, renew or login). */
export interface Lifetime {
  /** Seconds left from now; 0 = never expires (a root token, a token without TTL). */
  ttlSeconds: number;
  renewable: boolean;
  /**
   * Seconds left before the hard limit (max TTL, explicit max TTL) when Vault says; renewing never goes past it.
   * Unknown limits are found when a renewal comes back shorter than asked.
   */
  maxTtlSeconds?: number;
  /** Vault's warnings on the answer (a renewal capped by the max TTL says so here). */
  warnings?: string[];
}

/** What is watched. Implementations turn Vault's answers into `Lifetime`s; errors pass through as they are. */
export interface LifetimeSource {
  /** Names it in logs and status, e.g. "the app's Vault token (AppRole aurora-app)". */
  readonly name: string;
  /** The current lifetime, changing nothing (token: auth/token/lookup-self). */
  lookup(): Promise<Lifetime>;
  /** Extends it (token: auth/token/renew-self). */
  renew(): Promise<Lifetime>;
  /**
   * Obtains a new one and starts using it (token: a new login, swapped in atomically). Absent when there is no
   * way to get a new one (a static token): then the max TTL is the end.
   */
  obtain?(): Promise<Lifetime>;
  /** True when `err` means the current one is gone for good (token: 403), so renewing again is pointless. */
  isGone?(err: unknown): boolean;
}

export type LifetimeStatus = 'pending' | 'ok' | 'expiring' | 'expired';

/** A snapshot for /readyz and status endpoints. Never holds the token itself. */
export interface LifetimeState {
  name: string;
  /**
   * pending: nothing obtained yet; ok: valid and being kept alive; expiring: valid, but the watcher cannot
   * extend it (failing attempts, or a max TTL without a way to obtain a new one); expired: past its expiry.
   */
  status: LifetimeStatus;
  /** Seconds until expiry (rounded down); null when it never expires or nothing is held. */
  expiresInSeconds: number | null;
  expiresAt: string | null;
  renewable: boolean;
  /** The next thing the watcher will do, and in how many seconds. */
  next: { action: 'renew' | 'obtain' | 'lookup' | 'none'; inSeconds: number } | null;
  /** Why the last attempt failed, if it did; cleared by the next success. */
  lastError?: string;
  /** Why the watcher cannot keep it alive by itself, if so (the operator must act). */
  problem?: string;
}

export interface LifetimeWatcherOptions {
  logger: Logger;
  /** Fraction of the TTL after which to act (default 2/3). */
  renewAt?: number;
  /** A TTL under this many seconds gets a warning at start (default 300). */
  shortLivedSeconds?: number;
  /** Retries after a failure never come sooner than this (default 500 ms) nor later than maxRetryMs. */
  minRetryMs?: number;
  maxRetryMs?: number;
}

type Action = 'renew' | 'obtain' | 'lookup';

/** Vault's warning when a renewal was capped, e.g. `TTL of "5s" exceeded the effective max_ttl of "3s"`. */
const CAPPED_WARNING = /max[_ ]?ttl/i;
/** A renewal that comes back this much shorter than the TTL it had at start has hit a hard limit (seconds). */
const CAP_TOLERANCE_SECONDS = 1;

export class LifetimeWatcher {
  private readonly renewAt: number;
  private readonly shortLived: number;
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Wall-clock ms of expiry; Infinity = never; undefined = nothing held. */
  private expiresAtMs?: number;
  private renewable = false;
  /** The TTL a fresh one gets: a renewal answering less than this was capped. */
  private fullTtlSeconds = 0;
  private nextAction: { action: Action; atMs: number } | undefined;
  private lastError?: string;
  private problem?: string;
  private failures = 0;
  private obtaining?: Promise<void>;

  constructor(
    readonly source: LifetimeSource,
    private readonly options: LifetimeWatcherOptions,
  ) {
    this.renewAt = options.renewAt ?? 2 / 3;
    this.shortLived = options.shortLivedSeconds ?? 300;
    this.minRetryMs = options.minRetryMs ?? 500;
    this.maxRetryMs = options.maxRetryMs ?? 30_000;
  }

  /**
   * Starts watching: obtains a new one when the source can (a login), else looks up the current one; warns
   * once about a lifetime that is not renewable or short. Rejects when that first step fails; the watcher then
   * keeps trying in the background, so a caller may log the error and carry on.
   */
  async start(): Promise<void> {
    try {
      const lifetime = this.source.obtain ? await this.source.obtain() : await this.source.lookup();
      this.accept(lifetime, 'start');
      this.warnAtStart(lifetime);
    } catch (err) {
      this.fail(err);
      throw err;
    }
  }

  /**
   * Obtains a new one now (after Vault refused the current one with a 403). Concurrent callers share one
   * attempt. Rejects when there is no way to obtain one, or when the attempt fails.
   */
  async refresh(): Promise<void> {
    if (!this.source.obtain) throw new Error(`${this.source.name} cannot be replaced by the watcher`);
    this.obtaining ??= this.runObtain().finally(() => {
      this.obtaining = undefined;
    });
    return this.obtaining;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Whether what is held is past its expiry: `state().status === 'expired'`, without building the state. */
  expired(now = Date.now()): boolean {
    const exp = this.expiresAtMs;
    return exp !== undefined && exp !== Infinity && now >= exp;
  }

  state(now = Date.now()): LifetimeState {
    const exp = this.expiresAtMs;
    const status: LifetimeStatus =
      exp === undefined
        ? 'pending'
        : this.expired(now)
          ? 'expired'
          : this.lastError !== undefined || this.problem !== undefined
            ? 'expiring'
            : 'ok';
    return {
      name: this.source.name,
      status,
      expiresInSeconds: exp === undefined || exp === Infinity ? null : Math.max(0, Math.floor((exp - now) / 1000)),
      expiresAt: exp === undefined || exp === Infinity ? null : new Date(exp).toISOString(),
      renewable: this.renewable,
      next: this.nextAction
        ? { action: this.nextAction.action, inSeconds: Math.max(0, Math.round((this.nextAction.atMs - now) / 1000)) }
        : exp === undefined
          ? null
          : { action: 'none', inSeconds: 0 },
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(this.problem !== undefined ? { problem: this.problem } : {}),
    };
  }

  // ---- the schedule -------------------------------------------------------------------------------------

  private accept(lifetime: Lifetime, how: 'start' | 'renew' | 'obtain'): void {
    const now = Date.now();
    const ttl = lifetime.ttlSeconds;
    this.expiresAtMs = ttl > 0 ? now + ttl * 1000 : Infinity;
    this.renewable = lifetime.renewable;
    if (how !== 'renew') this.fullTtlSeconds = ttl;
    this.lastError = undefined;
    this.failures = 0;
    this.problem = undefined;
    if (ttl <= 0) {
      // Never expires: nothing to schedule (a root token; a token created without a TTL).
      this.setNext(undefined);
      return;
    }
    const capped =
      how === 'renew' &&
      ((lifetime.warnings ?? []).some((w) => CAPPED_WARNING.test(w)) ||
        ttl < this.fullTtlSeconds - CAP_TOLERANCE_SECONDS);
    const atMax = lifetime.maxTtlSeconds !== undefined && lifetime.maxTtlSeconds <= ttl + CAP_TOLERANCE_SECONDS;
    const extendable = lifetime.renewable && !capped && !atMax;
    const delayMs = Math.max(this.minRetryMs, ttl * this.renewAt * 1000);
    if (extendable) {
      this.setNext({ action: 'renew', atMs: now + delayMs });
    } else if (this.source.obtain) {
      // Renewing would not help: get a new one while this one still works, so nobody sees a 403. A capped
      // renewal means the end is near (less than one TTL left): obtain now rather than cut it fine.
      if (capped || atMax)
        this.options.logger.info(`${this.source.name} reaches its max TTL; obtaining a new one before then`, {
          expires_in_seconds: ttl,
        });
      this.setNext({ action: 'obtain', atMs: capped ? now : now + delayMs });
    } else {
      const expiresAt = new Date(this.expiresAtMs).toISOString();
      this.problem = lifetime.renewable
        ? `${this.source.name} reaches its max TTL at ${expiresAt} and cannot be renewed past it; replace it before then`
        : `${this.source.name} is not renewable and expires at ${expiresAt}; replace it before then`;
      this.options.logger.error(this.problem, { expires_in_seconds: ttl });
      this.setNext(undefined);
    }
  }

  private warnAtStart(lifetime: Lifetime): void {
    const ttl = lifetime.ttlSeconds;
    if (ttl <= 0) return;
    const fields = { ttl_seconds: ttl, renewable: lifetime.renewable };
    if (!lifetime.renewable && !this.source.obtain) return; // accept() already said it, as an error
    if (!lifetime.renewable)
      this.options.logger.warn(
        `${this.source.name} is not renewable: a new one is obtained every ${Math.round(ttl * this.renewAt)} s`,
        fields,
      );
    else if (ttl < this.shortLived)
      this.options.logger.warn(
        `${this.source.name} is short-lived (TTL ${ttl} s): it is renewed every ${Math.round(ttl * this.renewAt)} s`,
        fields,
      );
  }

  private setNext(next: { action: Action; atMs: number } | undefined): void {
    clearTimeout(this.timer);
    this.nextAction = next;
    if (!next || this.stopped) return;
    this.timer = setTimeout(() => void this.act(next.action), Math.max(0, next.atMs - Date.now()));
    this.timer.unref();
  }

  private async act(action: Action): Promise<void> {
    if (this.stopped) return;
    if (action === 'obtain') {
      await this.refresh().catch(() => undefined); // runObtain recorded the failure and scheduled a retry
      return;
    }
    try {
      if (action === 'lookup') {
        const lifetime = await this.source.lookup();
        this.accept(lifetime, 'start');
        this.warnAtStart(lifetime);
      } else {
        this.accept(await this.source.renew(), 'renew');
      }
    } catch (err) {
      if (this.source.isGone?.(err) ?? false) {
        if (this.source.obtain) {
          this.options.logger.warn(`${this.source.name} is no longer valid; obtaining a new one`, { err });
          await this.refresh().catch(() => undefined);
          return;
        }
        // Revoked or expired, and nothing can replace it: expired from now on, checked again now and then.
        this.expiresAtMs = Date.now();
        this.problem = `${this.source.name} is no longer valid (expired or revoked); replace it`;
      }
      this.fail(err, action);
    }
  }

  private async runObtain(): Promise<void> {
    try {
      this.accept(await this.source.obtain!(), 'obtain');
    } catch (err) {
      this.fail(err, 'obtain');
      throw err;
    }
  }

  /** Records a failure and schedules the next attempt: sooner as expiry nears, never a busy loop. */
  private fail(err: unknown, action?: Action): void {
    const message = err instanceof Error ? err.message : String(err);
    if (this.lastError !== message)
      this.options.logger.warn(`${this.source.name}: ${action ?? 'start'} failed; retrying`, { err });
    this.lastError = message;
    this.failures += 1;
    const left =
      this.expiresAtMs === undefined || this.expiresAtMs === Infinity ? Infinity : this.expiresAtMs - Date.now();
    const backoff = Math.min(this.maxRetryMs, this.minRetryMs * 2 ** Math.min(this.failures, 10));
    const delay = Math.max(this.minRetryMs, Math.min(backoff, left / 3));
    // Past expiry, or nothing held yet: only a new one helps when the source can make one, else look again.
    const fresh = left <= 0 || action === undefined || action === 'obtain' || action === 'lookup';
    const next: Action = fresh ? (this.source.obtain ? 'obtain' : 'lookup') : 'renew';
    this.setNext({ action: next, atMs: Date.now() + delay });
  }
}
