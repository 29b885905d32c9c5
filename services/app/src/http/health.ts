/**
 * /healthz: the process is up. /readyz: PostgreSQL answers, Vault is unsealed, and our token is valid:
 * each check named in the answer so that `curl /readyz` says what is wrong.
 */
import { Router } from 'express';
import type pg from 'pg';
import type { VaultSession } from '../vault/session.js';

export function healthRoutes(pool: pg.Pool, vault: VaultSession): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
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
          if (checks.vault === 'ok') {
            await vault
              .run((c) => c.lookupSelf())
              .then(
                () => {
                  checks.vault_token = 'ok';
                },
                (err: Error) => {
                  checks.vault_token = `invalid: ${err.message}`;
                },
              );
          }
        },
        (err: Error) => {
          checks.vault = `unreachable: ${err.message}`;
        },
      ),
    ]);
    const ready = checks.postgres === 'ok' && checks.vault === 'ok' && checks.vault_token === 'ok';
    if (!ready) res.set('Retry-After', '2');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  return router;
}
