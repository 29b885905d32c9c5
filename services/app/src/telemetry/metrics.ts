/**
 * The app's Prometheus metrics, in one registry: what the rest of the app records with one-line calls, and
 * the gauges read at scrape time (PostgreSQL pool, Vault token and lease lifetimes). Served by
 * http/metrics.ts on its own loopback listener; docs/operations.md lists every name and its meaning.
 *
 * Hot path cost: a counter increment or a histogram observation (an array index and an add), nothing else.
 * Labels are bounded: route patterns (never URLs), fixed outcome words, Vault operation kinds. No label ever
 * carries a client id, a user id, a reference or a secret.
 */
import client from 'prom-client';
import type pg from 'pg';
import { observeVaultCalls, type VaultCall } from '@aurora/common';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

/** Few buckets on purpose: each one is a series per label set. Seconds, from a cache hit to a slow Vault. */
const LATENCY_BUCKETS = [0.005, 0.025, 0.1, 0.5, 2.5];

export const httpRequests = new client.Counter({
  name: 'aurora_app_http_requests_total',
  help: 'HTTP requests answered, by method, route pattern (unmatched = no route, e.g. refused before routing) and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

export const httpDuration = new client.Histogram({
  name: 'aurora_app_http_request_duration_seconds',
  help: 'Time from the request arriving to the response being sent, by method and route pattern',
  labelNames: ['method', 'route'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

/** hit: served from the cache; miss: read from Vault; coalesced: joined a read already in flight. */
export type ResolveOutcome = 'hit' | 'miss' | 'coalesced';

const resolves = new client.Counter({
  name: 'aurora_app_resolves_total',
  help: 'Credential resolves by cache outcome: hit (cache), miss (one Vault read), coalesced (joined a read in flight)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** Counts one resolve. */
export function countResolve(outcome: ResolveOutcome): void {
  resolves.inc({ outcome });
}

const vaultRequests = new client.Counter({
  name: 'aurora_app_vault_requests_total',
  help: 'Requests to Vault by operation (kv_read, kv_write, login, token_renew, sys_health, ...) and outcome',
  labelNames: ['operation', 'outcome'] as const,
  registers: [registry],
});

const vaultDuration = new client.Histogram({
  name: 'aurora_app_vault_request_duration_seconds',
  help: 'Time Vault took to answer, by operation',
  labelNames: ['operation'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

/** Records one Vault request (the Vault client's observer, set once below). */
export function countVaultCall(call: VaultCall): void {
  vaultRequests.inc({ operation: call.operation, outcome: call.outcome });
  vaultDuration.observe({ operation: call.operation }, call.seconds);
}
observeVaultCalls(countVaultCall);

/**
 * How an authentication attempt ended. ok; wrong_secret; unknown_client; out_of_scope (the Client's secret
 * is scoped to another resource); locked_out (429, too many failures); missing (no Basic header);
 * secret_unavailable (the Client's secret cannot be read: a missing file, a reference Vault refuses).
 */
export type AuthOutcome =
  'ok' | 'wrong_secret' | 'unknown_client' | 'out_of_scope' | 'locked_out' | 'missing' | 'secret_unavailable';

const authAttempts = new client.Counter({
  name: 'aurora_app_auth_attempts_total',
  help: 'Client authentications by outcome: ok, wrong_secret, unknown_client, out_of_scope, locked_out, missing, secret_unavailable',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** Counts one authentication. A failure `reason` from the authenticator maps onto the outcome words above. */
export function countAuth(outcome: AuthOutcome | { reason: string }): void {
  authAttempts.inc({ outcome: typeof outcome === 'string' ? outcome : authOutcomeOf(outcome.reason) });
}

/** The authenticator's failure reasons (auth/basic-auth.ts) as bounded outcome words. */
export function authOutcomeOf(reason: string): AuthOutcome {
  if (reason === 'wrong secret') return 'wrong_secret';
  if (reason === 'unknown client') return 'unknown_client';
  if (reason === 'secret out of scope') return 'out_of_scope';
  return 'secret_unavailable';
}

/** What the scrape-time gauges read: the pool, and the lifetimes the Vault session knows. */
export interface MetricSources {
  pool?: Pick<pg.Pool, 'totalCount' | 'idleCount' | 'waitingCount'>;
  /**
   * Seconds until each Vault token or lease the app holds expires, by a bounded name (`app-token`). Called at
   * scrape time; undefined entries are left out. A lifetime watcher can replace it with its own view.
   */
  lifetimes?: () => Promise<Lifetime[]>;
}

/** One token or lease the app holds, and the seconds left before Vault expires it (0 = expired or unknown). */
export interface Lifetime {
  kind: 'token' | 'lease';
  name: string;
  expiresInSeconds: number;
}

const sources: MetricSources = {};

/** Points the scrape-time gauges at this process's pool and Vault session. */
export function setMetricSources(next: MetricSources): void {
  Object.assign(sources, next);
}

new client.Gauge({
  name: 'aurora_app_pg_pool_connections',
  help: 'PostgreSQL pool: connections in_use (checked out) and idle',
  labelNames: ['state'] as const,
  registers: [registry],
  collect() {
    this.reset();
    const p = sources.pool;
    if (!p) return;
    this.set({ state: 'in_use' }, p.totalCount - p.idleCount);
    this.set({ state: 'idle' }, p.idleCount);
  },
});

new client.Gauge({
  name: 'aurora_app_pg_pool_waiting',
  help: 'PostgreSQL pool: queries waiting for a free connection',
  registers: [registry],
  collect() {
    if (sources.pool) this.set(sources.pool.waitingCount);
  },
});

new client.Gauge({
  name: 'aurora_app_vault_expiry_seconds',
  help: 'Seconds until a Vault token or lease the app holds expires (kind token|lease, name e.g. app-token)',
  labelNames: ['kind', 'name'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    if (!sources.lifetimes) return;
    for (const l of await sources.lifetimes().catch(() => [] as Lifetime[]))
      this.set({ kind: l.kind, name: l.name }, l.expiresInSeconds);
  },
});
