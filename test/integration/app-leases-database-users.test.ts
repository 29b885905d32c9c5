// User story: as an operator, my app connects to PostgreSQL as users Vault leases for seconds (TTL 10 s, max
// 30 s): under steady load no request fails while the pool moves to new users, replaced users leave pg_roles;
// when Vault dies the app keeps serving on its connections until the lease ends, then answers 503 with
// Retry-After naming the cause, and recovers by itself when Vault is back; stopping the app revokes its lease.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { VaultClient } from '@aurora/common';
import { waitFor, type AppProcess, type PostgresServer, type VaultServer } from '@aurora/process';
import { connectAs, databaseScene, startLeasedApp, type DatabaseScene } from '../support/database-scene.js';
import { runOnceOk } from '../support/vault-init-runs.js';
import { initRootClient } from '../support/vault-init-scene.js';

const LOAD_MS = 90_000;

describe('the app on PostgreSQL users leased from Vault', () => {
  let scene: DatabaseScene;
  let vault: VaultServer;
  let postgres: PostgresServer;
  let root: VaultClient;
  let app: AppProcess;
  let header: string;

  const initOnce = async () => {
    await runOnceOk(scene.env, [], { timeoutMs: 120_000 });
    root = initRootClient(vault, scene.dirs);
  };

  /** The leased app users PostgreSQL knows, asked as a maintenance user of its own (revoked afterwards). */
  const appUsers = async (): Promise<string[]> => {
    const creds = await root.database().credentials('aurora-maintenance');
    const db = await connectAs(postgres, creds);
    try {
      const res = await db.query<{ rolname: string }>(
        "SELECT rolname FROM pg_roles WHERE rolname LIKE 'v-approle-aurora-a-%' ORDER BY rolname",
      );
      return res.rows.map((r) => r.rolname);
    } finally {
      await db.end();
      await root.revokeLease(creds.leaseId);
    }
  };

  const send = async (method: string, p: string, body?: unknown): Promise<Response | Error> =>
    fetch(`${app.url}${p}`, {
      method,
      headers: { authorization: header, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(20_000),
    }).catch((err: Error) => err);

  before(async () => {
    scene = await databaseScene({ VAULT_DB_DEFAULT_TTL: '10s', VAULT_DB_MAX_TTL: '30s' });
    ({ vault, postgres } = scene);
    await initOnce();
    ({ app, header } = await startLeasedApp(scene, 'leased-app', {
      CACHE_TTL_SECONDS: '0',
      AUTH_MAX_FAILURES: '10000',
    }));
  });
  after(async () => {
    await app?.kill();
    await vault?.stop();
    await postgres?.stop();
  });

  test('90 s of writes and resolves: no failed request, at least two new users, replaced users gone', async () => {
    const failures: string[] = [];
    let total = 0;
    const deadline = Date.now() + LOAD_MS;
    await Promise.all(
      [0, 1, 2].map(async (w) => {
        for (let i = 0; Date.now() < deadline; i++) {
          for (const [method, p, body] of [
            ['PUT', `/users/load-${w}/credentials/api`, { data: { key: `v-${w}-${i}` } }],
            ['POST', `/users/load-${w}/credentials/api/resolve`, undefined],
          ] as const) {
            const res = await send(method, p, body);
            total += 1;
            if (res instanceof Error) failures.push(`${method} ${p}: ${res.message}`);
            else if (!res.ok) failures.push(`${method} ${p}: ${res.status} ${await res.text()}`);
          }
        }
      }),
    );
    assert.ok(total > 50, `requests made: ${total}`);
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${total} failed`);
    const moves = app
      .log()
      .split('\n')
      .filter((l) => l.includes('PostgreSQL pool moved to a new leased user'));
    assert.ok(moves.length >= 3, `the first user and at least two replacements: ${moves.length}`);
    const users = await appUsers();
    assert.ok(users.length <= 2, `only the current user (and one draining) remain: ${users.join(', ')}`);
  });

  test('Vault killed: served until the lease ends, then 503 + Retry-After naming the cause, then recovered', async () => {
    const read = async () => {
      const res = await send('GET', '/fhir/Client/admin');
      if (res instanceof Error) throw res;
      return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
    };
    assert.equal((await read()).status, 200);
    await vault.kill();
    const killedAt = Date.now();
    // The lease has at most 10 s left: PostgreSQL-only reads keep working on the pool's connections meanwhile.
    assert.equal((await read()).status, 200);
    const refused = await waitFor(
      'the app to answer 503 once its lease has ended',
      async () => {
        const r = await read();
        return r.status === 503 ? r : undefined;
      },
      60_000,
      250,
    );
    assert.ok(Date.now() - killedAt <= 45_000, 'the 503 comes when the lease ends, not much later');
    assert.ok(Number(refused.retryAfter) > 0, `Retry-After: ${refused.retryAfter}`);
    assert.match(refused.text, /PostgreSQL credentials from Vault have expired/);

    await vault.startProcess();
    await initOnce(); // unseals
    await waitFor(
      'the app to serve again without a restart',
      async () => ((await read()).status === 200 ? true : undefined),
      90_000,
      500,
    );
    assert.equal(app.running, true);
  });

  test('stopping the app revokes its lease: its user leaves pg_roles', async () => {
    await waitFor('a leased app user', async () => ((await appUsers()).length > 0 ? true : undefined), 30_000, 500);
    await app.stop();
    assert.deepEqual(await appUsers(), []);
  });
});
