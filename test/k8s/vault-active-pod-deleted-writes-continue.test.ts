/**
 * Deleting the active Vault pod under a steady write load through the app's Service: the pod comes back and is
 * unsealed by vault-init, another pod is elected leader, writes continue, and every write the app acknowledged
 * can be read back afterwards (nothing acknowledged is lost).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@aurora/process';
import { basicAuth } from '../support/raw-http.js';
import {
  MIN,
  adminSecret,
  isReady,
  k,
  pods,
  request,
  serviceUrl,
  steadyLoad,
  vaultRole,
  votersReady,
} from './cluster.js';

test(
  'the active Vault pod deleted: back unsealed, a new leader, writes continue, nothing acknowledged lost',
  { timeout: 6 * MIN },
  async (t) => {
    const app = await serviceUrl('app', 8080);
    const headers = { authorization: basicAuth('admin', await adminSecret()), 'content-type': 'application/json' };
    const vaultPods = (await pods('vault')).map((p) => p.metadata.name);
    assert.ok(vaultPods.length >= 3, 'this story needs three Vault pods (run after vault-scale-1-to-3)');
    await votersReady(vaultPods.length);
    let active = '';
    await waitFor(
      'an active Vault pod',
      async () => {
        for (const p of vaultPods) if ((await vaultRole(p)) === 'active') active = p;
        return active !== '' || undefined;
      },
      MIN,
      500,
    );

    const acknowledged = new Map<string, string>();
    const ackTimes: number[] = [];
    const load = steadyLoad(
      t,
      async (i) => {
        const value = `load-${Date.now()}-${i}`;
        const r = await request(`${app}/users/loader/credentials/k${i}`, {
          method: 'PUT',
          headers,
          body: JSON.stringify({ data: { token: value } }),
        });
        if (r.status === 200 || r.status === 201) {
          acknowledged.set(`k${i}`, value);
          ackTimes.push(Date.now());
        }
        return r;
      },
      (r) => r.status === 200 || r.status === 201,
      200,
    );
    await waitFor('10 acknowledged writes before the deletion', () => load.ok >= 10 || undefined, MIN);
    const deletedAt = Date.now();
    await k(['delete', 'pod', active, '--wait=false']);

    await waitFor(
      'a new leader among the other pods',
      async () => {
        for (const p of vaultPods) if (p !== active && (await vaultRole(p)) === 'active') return true;
        return undefined;
      },
      2 * MIN,
      500,
    );
    await waitFor(
      `${active} back and unsealed (Ready)`,
      async () => {
        const p = (await pods('vault')).find((x) => x.metadata.name === active);
        return (!!p && isReady(p) && ['active', 'standby'].includes(await vaultRole(active))) || undefined;
      },
      3 * MIN,
      500,
    );
    const result = await load.stop();
    // Writes continue: acknowledged writes after the deletion (the election window may refuse a few, with 503).
    const afterDeletion = ackTimes.filter((t) => t > deletedAt).length;
    assert.ok(afterDeletion > 0, `no write was acknowledged after the deletion (${result.failed.length} failed)`);

    // A fresh write after the recovery succeeds.
    const fresh = await request(`${app}/users/loader/credentials/after`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ data: { token: 'after-recovery' } }),
    });
    assert.ok(fresh.status === 200 || fresh.status === 201, `a write after recovery: ${fresh.status} ${fresh.body}`);

    // A pod is Ready once it is an unsealed standby, a moment before it has found the new active node; what it
    // answers until then is a 503 with Retry-After, which a client retries. Any other answer decides at once.
    for (const [key, value] of acknowledged) {
      const r = await waitFor(
        `write ${key} resolved (a 503 with Retry-After is retried)`,
        async () => {
          const r = await request(`${app}/users/loader/credentials/${key}/resolve`, { method: 'POST', headers });
          // Thrown, not returned: a wait that runs out then names the last 503 it got.
          if (r.status === 503 && r.retryAfter !== undefined) throw new Error(`503 ${r.body}`);
          return r;
        },
        MIN,
        1000,
      );
      assert.equal(r.status, 200, `acknowledged write ${key} cannot be resolved: ${r.status} ${r.body}`);
      assert.deepEqual((JSON.parse(r.body) as { data: unknown }).data, { token: value }, `write ${key} lost`);
    }
  },
);
