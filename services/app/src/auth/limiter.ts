/**
 * The guess limiter: slows down guessing of Client secrets without locking a Client out.
 *
 * What counts is the number of DISTINCT wrong secrets, not failed requests: a client that retries the same
 * credential (say, the new secret during a rotation, before the agent has rendered it) is not guessing, and
 * its retries are answered as often as it sends them. Each presented secret is known only by its keyed
 * digest (client-secret-rule.ts' `secretDigest`, the one the comparison uses): never stored in clear.
 *
 * Per key (`client:<id>`, and `addr:<address>` where the caller's address is real) a token bucket of
 * `maxGuesses` tokens refills evenly over `windowSeconds`. Trying a secret this key has not seen fail costs a
 * token, taken before the comparison (so parallel guesses cannot overdraw it) and given back when the
 * secret turns out right. With no token left, a new secret is answered 429 with Retry-After (the seconds
 * until the next token) without being compared. What is never refused:
 *  - a secret this Client has been accepted with (its digest is remembered): the legitimate user keeps
 *    working while someone guesses, from whatever address;
 *  - a secret already known to be wrong: comparing it again tells a guesser nothing new.
 * So a guesser gets at most `maxGuesses` guesses per window per Client, and per address where addresses
 * are real, and the Client's own user is not locked out. Bounded memory: at most `maxKeys` keys (the least
 * recently used go first), at most `maxRemembered` digests per key.
 */
export interface LimiterOptions {
  /** Distinct wrong secrets per key within `windowSeconds` before new ones are refused (AUTH_MAX_FAILURES). */
  maxGuesses: number;
  windowSeconds: number;
  maxKeys?: number;
  /** Digests of wrong secrets remembered per key; default 2 × maxGuesses, at least 32. */
  maxRemembered?: number;
  now?: () => number;
}

interface KeyState {
  tokens: number;
  refilledAt: number;
  /** digest → when last seen; wrong secrets, oldest first. */
  wrong: Map<string, number>;
  /** Digests of secrets accepted for this Client (client keys only); at most 4. */
  accepted: string[];
  reported: boolean;
}

/** The limiter's answer before a comparison. */
export type Admission =
  { admitted: true; ticket: Ticket } | { admitted: false; retryAfterSeconds: number; firstRefusal: boolean };

/** Handed back to `settle` with the outcome: which keys gave a token for this attempt. */
export interface Ticket {
  digest: string;
  clientKey: string;
  keys: string[];
  charged: string[];
}

export class GuessLimiter {
  private readonly states = new Map<string, KeyState>();
  private readonly msPerToken: number;
  private readonly maxKeys: number;
  private readonly maxRemembered: number;
  private readonly now: () => number;

  constructor(private readonly options: LimiterOptions) {
    this.msPerToken = (options.windowSeconds * 1000) / options.maxGuesses;
    this.maxKeys = options.maxKeys ?? 50_000;
    this.maxRemembered = options.maxRemembered ?? Math.max(32, options.maxGuesses * 2);
    this.now = options.now ?? Date.now;
  }

  /**
   * May the secret whose `secretDigest` is `presented` be compared for `clientId`, called from `address`
   * (undefined when addresses are not real)? When admitted, call `settle` with the outcome.
   */
  admit(clientId: string, presented: Buffer, address?: string): Admission {
    const now = this.now();
    // 128 bits of the digest are plenty to tell secrets apart, and half the memory.
    const digest = presented.toString('base64', 0, 16);
    const clientKey = `client:${clientId}`;
    const keys = address === undefined ? [clientKey] : [clientKey, `addr:${address}`];
    const client = this.states.get(clientKey);
    if (client?.accepted.includes(digest)) return { admitted: true, ticket: { digest, clientKey, keys, charged: [] } };
    const toCharge: KeyState[] = [];
    const chargedKeys: string[] = [];
    let wait = 0;
    let firstRefusal = false;
    for (const key of keys) {
      const state = this.state(key, now);
      const seen = state.wrong.get(digest);
      if (seen !== undefined && now - seen < this.options.windowSeconds * 1000) {
        // A retry: keep it remembered for as long as it keeps coming.
        state.wrong.delete(digest);
        state.wrong.set(digest, now);
        continue;
      }
      if (state.tokens >= 1) {
        toCharge.push(state);
        chargedKeys.push(key);
      } else {
        wait = Math.max(wait, Math.ceil((this.msPerToken * (1 - state.tokens)) / 1000));
        if (!state.reported) {
          state.reported = true;
          firstRefusal = true;
        }
      }
    }
    if (wait > 0) return { admitted: false, retryAfterSeconds: wait, firstRefusal };
    for (const state of toCharge) state.tokens -= 1;
    return { admitted: true, ticket: { digest, clientKey, keys, charged: chargedKeys } };
  }

  /** No comparison happened after all (Vault unavailable, a 503): give the tokens back, remember nothing. */
  release(ticket: Ticket): void {
    for (const key of ticket.charged) {
      const state = this.states.get(key);
      if (state) state.tokens = Math.min(this.options.maxGuesses, state.tokens + 1);
    }
  }

  /** The comparison's outcome for an admitted attempt. */
  settle(ticket: Ticket, accepted: boolean): void {
    const now = this.now();
    if (accepted) {
      this.release(ticket);
      const client = this.state(ticket.clientKey, now);
      client.accepted = [ticket.digest, ...client.accepted.filter((d) => d !== ticket.digest)].slice(0, 4);
      for (const key of ticket.keys) this.states.get(key)?.wrong.delete(ticket.digest);
      return;
    }
    for (const key of ticket.keys) {
      const state = this.state(key, now);
      state.wrong.delete(ticket.digest);
      state.wrong.set(ticket.digest, now);
      while (state.wrong.size > this.maxRemembered) {
        const oldest = state.wrong.keys().next().value;
        if (oldest === undefined) break;
        state.wrong.delete(oldest);
      }
    }
    // A secret that was accepted before and is wrong now (rotated away) is no longer a way past the bucket.
    const client = this.states.get(ticket.clientKey);
    if (client) client.accepted = client.accepted.filter((d) => d !== ticket.digest);
  }

  /** The state of `key`, refilled up to `now`, created when absent; touching it makes it the most recent. */
  private state(key: string, now: number): KeyState {
    let state = this.states.get(key);
    if (state) {
      this.states.delete(key);
      const refill = (now - state.refilledAt) / this.msPerToken;
      if (refill > 0) {
        state.tokens = Math.min(this.options.maxGuesses, state.tokens + refill);
        state.refilledAt = now;
      }
      if (state.tokens >= 1) state.reported = false;
      // Oldest first (a retry moves a digest to the end): drop what has not been seen for a window.
      for (const [digest, seen] of state.wrong) {
        if (now - seen < this.options.windowSeconds * 1000) break;
        state.wrong.delete(digest);
      }
    } else {
      if (this.states.size >= this.maxKeys) this.evict();
      state = { tokens: this.options.maxGuesses, refilledAt: now, wrong: new Map(), accepted: [], reported: false };
    }
    this.states.set(key, state);
    return state;
  }

  private evict(): void {
    while (this.states.size >= this.maxKeys) {
      const oldest = this.states.keys().next().value;
      if (oldest === undefined) break;
      this.states.delete(oldest);
    }
  }

  /** Keys with state (for tests of the memory bound). */
  get size(): number {
    return this.states.size;
  }
}
