// User story: on the native stack (`make native`), `make backup` and `make restore FILE=… CONFIRM=1` are the
// commands, literally: scripts/backup.ts and scripts/restore.ts, on a native stack of its own (NATIVE_DIR in
// a temp dir, free ports) that scripts/native.ts started, with vault-init keeping Vault unsealed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { freePort, repoRoot, tempDir, TSX_NODE_ARGS, AppProcess, lookupToken } from '@aurora/process';
import { VaultClient } from '@aurora/common';
import { runAsMaintenanceUser } from '../support/database-scene.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('make backup / make restore on the native stack', () => {
  let dir: string;
  let env: Record<string, string>;
  let app: AppProcess | undefined;
  let vaultAddr: string;
  let pgPort: number;
  let operatorToken: string;
  let archive = '';
  const secret1 = `s1-${crypto.randomBytes(12).toString('hex')}`;
  const secret2 = `s2-${crypto.randomBytes(12).toString('hex')}`;

  const script = (name: string, args: string[] = [], extra: Record<string, string> = {}): Run => {
    const res = spawnSync(process.execPath, [...TSX_NODE_ARGS, path.join(repoRoot(), 'scripts', name), ...args], {
      cwd: repoRoot(),
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, ...env, ...extra },
    });
    return { code: res.status, stdout: res.stdout, stderr: res.stderr };
  };
  // A fresh client per call: a kept-alive connection to a Vault that a backup or restore restarted fails once.
  const vault = () => new VaultClient({ addr: vaultAddr, token: operatorToken, timeoutMs: 10_000 });
  // psql as an operator would run it on this stack: a maintenance user leased with the operator token.
  const psql = async (sql: string): Promise<string> =>
    (
      await runAsMaintenanceUser(vault(), { host: '127.0.0.1', port: pgPort, database: 'aurora' }, 'psql', [
        '-v',
        'ON_ERROR_STOP=1',
        '-Atc',
        sql,
      ])
    ).stdout.trim();
  const putSecret = (p: string, data: Record<string, string>) => vault().kvWrite('aurora', `users/${p}`, data);
  const secretOf = async (p: string) => (await vault().kvRead('aurora', `users/${p}`)).data;

  before(async () => {
    dir = tempDir('native-ops');
    fs.chmodSync(dir, 0o755); // the postgres user (root runs the cluster as postgres) must reach .native/postgres
    pgPort = await freePort();
    const vaultPort = await freePort();
    vaultAddr = `http://127.0.0.1:${vaultPort}`;
    env = {
      NATIVE_DIR: path.join(dir, 'native'),
      NATIVE_VAULT_PORT: String(vaultPort),
      NATIVE_PG_PORT: String(pgPort),
      NATIVE_VAULT_INIT_HEALTH_PORT: String(await freePort()),
      APP_PORT: String(await freePort()),
      APP_METRICS_PORT: String(await freePort()),
      AURORA_STACK: 'native',
      BACKUP_DIR: path.join(dir, 'backups'),
      // doctor.sh reads the repo's .native/env; these point it at this test's stack instead.
      VAULT_APPROLE_DIR: path.join(dir, 'native', 'approle', 'app'),
      DOCTOR_ENV_FILE: path.join(dir, 'doctor.env'),
    };
    fs.writeFileSync(
      env.DOCTOR_ENV_FILE!,
      [
        `VAULT_ADDR=${vaultAddr}`,
        'PGHOST=127.0.0.1',
        `PGPORT=${pgPort}`,
        'PGDATABASE=aurora',
        'PG_VAULT_ROLE=aurora-app',
        'VAULT_TOKEN=',
      ].join('\n'),
    );
    const up = script('native.ts', ['up']);
    assert.equal(up.code, 0, `native.ts up: ${up.stderr.slice(-3000)}`);
    operatorToken = fs.readFileSync(path.join(dir, 'native', 'cli', '.vault-token'), 'utf8').trim();
    // The app creates its tables and writes through its real path: Vault first, then the row.
    app = await AppProcess.start(
      {
        VAULT_ADDR: vaultAddr,
        VAULT_APPROLE_DIR: env.VAULT_APPROLE_DIR!,
        PGHOST: '127.0.0.1',
        PGPORT: String(pgPort),
        PGDATABASE: 'aurora',
        PG_VAULT_ROLE: 'aurora-app',
        PG_VAULT_MIGRATIONS_ROLE: 'aurora-maintenance',
      },
      path.join(dir, 'app'),
    );
    await app.waitReady();
  });

  after(async () => {
    await app?.stop();
    if (env) script('native.ts', ['down']);
  });

  test('make backup: one 0600 archive, the pause announced and measured, Vault unsealed again by vault-init', async (t) => {
    await putSecret('alice/github', { token: secret1 });
    await psql(
      "INSERT INTO credential_references (user_id, credential_type, reference, version) VALUES ('alice', 'github', 'vault:kv/data/aurora/users/alice/github', 1)",
    );
    const out = script('backup.ts', [], { BACKUP_PASSPHRASE: 'correct horse battery staple' });
    assert.equal(out.code, 0, out.stderr);
    archive = out.stdout.trim();
    assert.match(path.basename(archive), /^aurora-backup-\d{8}T\d{6}Z\.tar\.gz\.enc$/);
    assert.equal(fs.statSync(archive).mode & 0o777, 0o600);
    assert.match(out.stderr, /PAUSE: stopping Vault of the native/);
    const pause = out.stderr.match(/PAUSE over: Vault is unsealed again, ([\d.]+) s after/);
    assert.ok(pause, out.stderr);
    t.diagnostic(`native pause: ${pause[1]} s`);
    assert.doesNotMatch(out.stderr, /hvs\.|Root Token/);
    assert.equal((await vault().sealStatus()).sealed, false);
  });

  test('make restore without CONFIRM=1 refuses and changes nothing', async () => {
    await putSecret('alice/github', { token: secret2 });
    await psql("UPDATE credential_references SET version = 2 WHERE user_id = 'alice'");
    const out = script('restore.ts', [archive], { BACKUP_PASSPHRASE: 'correct horse battery staple', CONFIRM: '' });
    assert.equal(out.code, 4, out.stderr);
    assert.match(out.stderr, /Refusing to overwrite the native .* CONFIRM=1/);
    assert.deepEqual(await secretOf('alice/github'), { token: secret2 });
  });

  test('make restore CONFIRM=1: the backed-up state, unsealed by vault-init with the restored keys, doctor 0/0', async (t) => {
    await app?.stop();
    const out = script('restore.ts', [archive], { BACKUP_PASSPHRASE: 'correct horse battery staple', CONFIRM: '1' });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /doctor: 0 dangling references, 0 orphans/);
    if (process.env.DEBUG_NATIVE_TEST) for (const l of out.stderr.split('\n')) t.diagnostic(l);
    const down = out.stderr.match(/the stack was down ([\d.]+) s/);
    t.diagnostic(`native restore: stack down ${down?.[1]} s`);
    assert.doesNotMatch(out.stderr, /hvs\.|Root Token/);
    assert.deepEqual(await secretOf('alice/github'), { token: secret1 });
    assert.equal(await psql("SELECT version FROM credential_references WHERE user_id = 'alice'"), '1');
    assert.ok(!fs.existsSync(path.join(dir, 'native', 'vault', 'data.pre-restore')));
  });

  test('make root-token on the native stack: keys from .native/init/init.json, a working root token', async () => {
    const out = script('root-token.ts', [], { VAULT_ADDR: '' });
    assert.equal(out.code, 0, out.stderr);
    const token = out.stdout.trim();
    assert.deepEqual(await lookupToken(vaultAddr, token), { status: 200, policies: ['root'] });
    assert.ok(!out.stderr.includes(token));
  });
});
