// User story: as a security reviewer, I find no PostgreSQL password in clear anywhere the process stacks leave
// traces: not in the app's or vault-init's logs, not in a pg_dump, not in the environment or command line of
// any process (Vault, PostgreSQL, the app). The bootstrap password exists only in its 0600 file, and the users
// Vault leases are known to Vault and to the app's memory alone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { VaultClient } from '@aurora/common';
import {
  AppProcess,
  PostgresServer,
  postgresBinDir,
  tempDir,
  VaultServer,
  runVaultInitOnce,
  startVault,
  vaultInitDirs,
  vaultInitEnv,
  type VaultInitDirs,
} from '@aurora/process';

/** NUL-separated /proc/<pid>/environ and cmdline, '' when the process is gone. */
function processTraces(pid: number | undefined): string {
  if (!pid) return '';
  const read = (f: string) => {
    try {
      return fs.readFileSync(`/proc/${pid}/${f}`, 'latin1');
    } catch {
      return '';
    }
  };
  return `${read('environ')}\n${read('cmdline')}`;
}

describe('no database password in clear', () => {
  let vault: VaultServer;
  let postgres: PostgresServer;
  let dirs: VaultInitDirs;
  let root: VaultClient;
  let app: AppProcess;
  let bootstrap: string;
  const vaultInitOutput: string[] = [];
  const issued: string[] = [];

  before(async () => {
    [vault, postgres] = await Promise.all([startVault(), PostgresServer.start()]);
    bootstrap = postgres.password;
    dirs = vaultInitDirs();
    const env = await vaultInitEnv(vault, dirs, {
      VAULT_SECRET_SHARES: '1',
      VAULT_SECRET_THRESHOLD: '1',
      VAULT_DB_SUPERUSER_PASSWORD_FILE: postgres.passwordFile,
      VAULT_DB_HOST: postgres.host,
      VAULT_DB_PORT: String(postgres.port),
      VAULT_DB_NAME: postgres.database,
    });
    const run = await runVaultInitOnce(env, 120_000);
    vaultInitOutput.push(run.output);
    assert.equal(run.code, 0, run.output.slice(-3000));
    const init = JSON.parse(fs.readFileSync(path.join(dirs.initDir, 'init.json'), 'utf8')) as { root_token: string };
    root = new VaultClient({ addr: vault.addr, token: init.root_token, timeoutMs: 30_000 });
    const dir = tempDir('no-password-app');
    const secret = `admin-${crypto.randomBytes(18).toString('base64url')}`;
    fs.writeFileSync(path.join(dir, 'admin-secret'), secret, { mode: 0o400 });
    fs.writeFileSync(
      path.join(dir, 'vault-config.json'),
      JSON.stringify({
        secret: {
          'admin-secret': { path: path.join(dir, 'admin-secret'), scope: { resource_type: 'Client', id: 'admin' } },
        },
      }),
    );
    app = await AppProcess.start(
      {
        VAULT_ADDR: vault.addr,
        VAULT_APPROLE_DIR: path.join(dirs.approleDir, 'app'),
        SECRETS_CONFIG: path.join(dir, 'vault-config.json'),
        PGHOST: postgres.host,
        PGPORT: String(postgres.port),
        PGDATABASE: postgres.database,
        PG_VAULT_ROLE: 'aurora-app',
        PG_VAULT_MIGRATIONS_ROLE: 'aurora-maintenance',
        LOG_LEVEL: 'debug',
      },
      path.join(dir, 'app'),
    );
    await app.waitReady(60_000);
    const header = `Basic ${Buffer.from(`admin:${secret}`).toString('base64')}`;
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
    const creds = await root.database().credentials('aurora-maintenance');
    issued.push(creds.password);
    const passFile = path.join(tempDir('pgpass'), 'pgpass');
    fs.writeFileSync(passFile, `*:*:*:${creds.username}:${creds.password}\n`, { mode: 0o600 });
    const dump = spawnSync(path.join(postgresBinDir(), 'pg_dump'), ['-w', postgres.database], {
      encoding: 'utf8',
      env: {
        ...process.env,
        PGHOST: postgres.host,
        PGPORT: String(postgres.port),
        PGUSER: creds.username,
        PGPASSFILE: passFile,
        PGPASSWORD: '',
      },
    });
    fs.rmSync(passFile);
    await root.revokeLease(creds.leaseId);
    assert.equal(dump.status, 0, dump.stderr);
    assert.match(dump.stdout, /credential_references/);
    for (const s of [bootstrap, ...issued]) assert.ok(!dump.stdout.includes(s));
    assert.doesNotMatch(dump.stdout, /SCRAM-SHA-256\$|PASSWORD '/i);
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
