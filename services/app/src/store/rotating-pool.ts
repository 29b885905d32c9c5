/**
 * The app's PostgreSQL pool when Vault leases its credentials: one pg.Pool per set of credentials. New
 * credentials get a new pool, proven by one connection before any query uses it; the previous pool then
 * drains (pg's `end()` waits for checked-out clients to come back, so no query in flight fails) and its lease
 * is handed back for revocation, so the user it named leaves pg_roles promptly.
 *
 * While the credentials have expired and none could be obtained (Vault away when they had to be replaced),
 * every query fails fast with a 503 naming the cause instead of waiting on refused connections.
 */
import pg from 'pg';
import type { DatabaseCredentials } from '@aurora/common';
import { DatabaseCredentialsExpiredError } from '@aurora/common';
import type { AppConfig } from '../config.js';
import { poolFor, type Db } from './db.js';

export class RotatingPool implements Db {
  private current?: pg.Pool;
  private readonly draining = new Set<Promise<void>>();

  /**
   * @param config the pool's settings; user and password come from each set of credentials
   * @param blocked why queries must not run now (credentials expired), or undefined
   * @param retired called with credentials no pool uses any more (revoke their lease)
   */
  constructor(
    private readonly config: AppConfig['postgres'],
    private readonly blocked: () => string | undefined,
    private readonly retired: (credentials: DatabaseCredentials) => Promise<void>,
  ) {}

  /** Moves new connections to `next`; the previous pool ends once its clients are back, then `previous` retires. */
  async use(next: DatabaseCredentials, previous: DatabaseCredentials | undefined): Promise<void> {
    const pool = poolFor(this.config, next);
    try {
      (await pool.connect()).release();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    const old = this.current;
    this.current = pool;
    if (!old) return;
    const drained = old
      .end()
      .catch(() => undefined)
      .then(() => (previous ? this.retired(previous) : undefined))
      .catch(() => undefined)
      .finally(() => this.draining.delete(drained));
    this.draining.add(drained);
  }

  private pool(): pg.Pool {
    const reason = this.blocked();
    if (reason !== undefined) throw new DatabaseCredentialsExpiredError(reason);
    if (!this.current) throw new DatabaseCredentialsExpiredError('none obtained from Vault yet');
    return this.current;
  }

  readonly query = ((...args: unknown[]) => {
    let pool: pg.Pool;
    try {
      pool = this.pool();
    } catch (err) {
      return Promise.reject(err);
    }
    return (pool.query as (...a: unknown[]) => unknown).apply(pool, args);
  }) as pg.Pool['query'];

  connect(): Promise<pg.PoolClient> {
    try {
      return this.pool().connect();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  get totalCount(): number {
    return this.current?.totalCount ?? 0;
  }
  get idleCount(): number {
    return this.current?.idleCount ?? 0;
  }
  get waitingCount(): number {
    return this.current?.waitingCount ?? 0;
  }

  /** Ends the current pool and waits for draining ones; the caller revokes the current lease afterwards. */
  async end(): Promise<void> {
    await Promise.allSettled([this.current?.end(), ...this.draining]);
  }
}
