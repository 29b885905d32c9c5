/**
 * /healthz: the process is up. /readyz: can this instance serve right now — PostgreSQL answers, Vault is
 * unsealed and serves authenticated requests, and our token is valid — each check named in the answer so that
 * `curl /readyz` says what is wrong. /status: the details behind it, for a human or a dashboard: the token's
 * seconds to expiry and the watcher's next step, the named cause of Vault's refusals. No secret in either.
 *
 * The token check reads the lifetime watcher's state instead of asking Vault on every probe: a load balancer
 * polling /readyz must neither fill the audit log nor take every instance out when Vault has a short failover.
 * Whether Vault serves authenticated requests comes from the app's own recent calls; an idle app makes one
 * lookup-self at most every REQUESTS_FRESH_MS.
 */
import { Router } from 'express';
import type { LifetimeState } from '@aurora/common';
import type { VaultSession } from '../vault/session.js';
import type { Db } from '../store/db.js';

/** An authenticated answer younger than this says enough about Vault serving requests (ms). */
const REQUESTS_FRESH_MS = 10_000;

/** One line for /readyz: "ok", or what is wrong with the token and for how long it still works. */
export function describeToken(state: LifetimeState): string {
  const left = state.expiresInSeconds === null ? '' : `expires in ${state.expiresInSeconds} s`;
  const why = state.problem ?? state.lastError;
  switch (state.status) {
    case 'ok':
      return 'ok';
    case 'expiring':
      return `expiring: ${[left, why].filter(Boolean).join('; ')}`;
    case 'expired':
      return `expired${why ? `: ${why}` : ''}`;
    default:
      return `not logged in${why ? `: ${why}` : ''}`;
  }
}

interface Checks {
  postgres: string;
  vault: string;
  vault_token: string;
  vault_requests?: string;
}

async function runChecks(pool: Db, vault: VaultSession): Promise<{ ready: boolean; checks: Checks }> {
  const token = vault.tokenState();
  const checks: Checks = { postgres: '', vault: '', vault_token: describeToken(token) };
  await Promise.all([
    pool.query('SELECT 1').then(
      () => {
        checks.postgres = 'ok';
      },
      (err: Error) => {
        checks.postgres = `unavailable: ${err.message}`;
      },
    ),
    vault.client.health().then(
      async (h) => {
        checks.vault = !h.initialized ? 'not initialized' : h.sealed ? 'sealed' : 'ok';
        if (checks.vault !== 'ok') return;
        await vault.probeIfIdle(REQUESTS_FRESH_MS);
        const requests = vault.requestsState();
        checks.vault_requests = requests.status === 'refusing' ? `refusing: ${requests.diagnosis}` : 'ok';
      },
      (err: Error) => {
        checks.vault = `unreachable: ${err.message}`;
      },
    ),
  ]);
  // A token that still works (even one expiring) serves requests; one expired or never obtained does not.
  const tokenUsable = token.status === 'ok' || token.status === 'expiring';
  const ready = checks.postgres === 'ok' && checks.vault === 'ok' && checks.vault_requests === 'ok' && tokenUsable;
  return { ready, checks };
}

export function healthRoutes(pool: Db, vault: VaultSession): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const { ready, checks } = await runChecks(pool, vault);
    if (!ready) res.set('Retry-After', '2');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  router.get('/status', async (_req, res) => {
    const { ready, checks } = await runChecks(pool, vault);
    const requests = vault.requestsState();
    res.set('Cache-Control', 'no-store').json({
      status: ready ? 'ready' : 'not ready',
      checks,
      vault: {
        addr: vault.client.addr,
        token: vault.tokenState(),
        requests: {
          status: requests.status,
          last_answer_at: requests.lastAnswerAt ? new Date(requests.lastAnswerAt).toISOString() : null,
          ...(requests.diagnosis ? { diagnosis: requests.diagnosis } : {}),
        },
      },
    });
  });
  return router;
}
