// User story: as a security reviewer, I find no PostgreSQL password in clear anywhere the process stacks leave
// traces: not in the app's or vault-init's logs, not in a pg_dump, not in the environment or command line of
// any process (Vault, PostgreSQL, the app). The bootstrap password exists only in its 0600 file, and the users
// Vault leases are known to Vault and to the app's memory alone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { VaultClient } from '@aurora/common';
import type { AppProcess, PostgresServer, VaultServer } from '@aurora/process';
import { databaseScene, runAsMaintenanceUser, startLeasedApp } from '../support/database-scene.js';
import { processTraces } from '../support/leaks.js';
import { runOnceOk } from '../support/vault-init-runs.js';
import { initRootClient } from '../support/vault-init-scene.js';

describe('no database password in clear', () => {
  let vault: VaultServer;
  let postgres: PostgresServer;
  let root: VaultClient;
  let app: AppProcess;
  let bootstrap: string;
  const vaultInitOutput: string[] = [];
  const issued: string[] = [];

  before(async () => {
    const scene = await databaseScene();
    ({ vault, postgres } = scene);
    bootstrap = postgres.password;
    await runOnceOk(scene.env, vaultInitOutput, { timeoutMs: 120_000 });
    root = initRootClient(vault, scene.dirs);
    const { app: started, header } = await startLeasedApp(scene, 'no-password-app', { LOG_LEVEL: 'debug' });
    app = started;
    const res = await fetch(`${app.url}/users/alice/credentials/api`, {
      method: 'PUT',
      headers: { authorization: header, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { key: 'k' } }),
    });
    assert.ok(res.ok, await res.text());
  });
  after(async () => {
    await app?.kill();
    await vault?.stop();
    await postgres?.stop();
  });

  test('a pg_dump as a leased maintenance user holds no password and no password hash', async () => {
    const { stdout: dump, password } = await runAsMaintenanceUser(root, postgres, 'pg_dump', [postgres.database]);
    issued.push(password);
    assert.match(dump, /credential_references/);
    for (const s of [bootstrap, ...issued]) assert.ok(!dump.includes(s));
    assert.doesNotMatch(dump, /SCRAM-SHA-256\$|PASSWORD '/i);
  });

  test('no process has a PostgreSQL password in its environment or command line', () => {
    for (const [name, pid] of [
      ['app', app.pid],
      ['vault', vault.pid],
      ['postgres', postgres.pid],
    ] as const) {
      const traces = processTraces(pid);
      assert.ok(traces.length > 0, `${name}'s /proc entries are readable`);
      assert.ok(!traces.includes(bootstrap), `${name}: no bootstrap password`);
      assert.doesNotMatch(traces, /PGPASSWORD=[^\0]/, `${name}: no PGPASSWORD value`);
    }
  });

  test('the logs name leased users, never a password', () => {
    const logs = [app.log(), ...vaultInitOutput, fs.readFileSync(postgres.logFile, 'utf8')];
    for (const log of logs) {
      for (const s of [bootstrap, ...issued]) assert.ok(!log.includes(s));
      assert.doesNotMatch(log, /"password":"(?!\[REDACTED\])/);
      assert.doesNotMatch(log, /SCRAM-SHA-256\$/);
    }
    assert.match(app.log(), /PostgreSQL pool moved to a new leased user/);
  });
});
