// User story: `docker restart vault-init` (or a second `make prod-local`) is always safe: a second run finds
// Vault initialized, never initializes it again, changes nothing and fails on nothing, keeps the app's and
// the CLI's credentials, and puts back whatever was changed by hand (a policy, a role, a revoked secret_id).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { VaultClient } from '@aurora/common';
import { VaultServer, runVaultInitOnce, vaultInitMain, type VaultInitDirs, serviceNode } from '@aurora/process';
import { runOnceOk } from '../support/vault-init-runs.js';
import { initRootClient, vaultInitScene } from '../support/vault-init-scene.js';
import { leakedLines, secretsOnDisk } from '../support/leaks.js';
import { loadConfig } from '@aurora/vault-init/config';
import { configureVault } from '@aurora/vault-init/configure/index';

function snapshot(dirs: VaultInitDirs): Record<string, string> {
  const files = [
    'init/init.json',
    'approle/app/role_id',
    'approle/app/secret_id',
    'approle/agent/role_id',
    'approle/agent/secret_id',
    'cli/.vault-token',
  ];
  return Object.fromEntries(files.map((f) => [f, fs.readFileSync(path.join(dirs.root, f), 'utf8')]));
}

function configureLine(output: string): { changed: string[] } {
  const line = output.split('\n').find((l) => l.includes('"step":"configure"'));
  assert.ok(line, output);
  return JSON.parse(line) as { changed: string[] };
}

describe('vault-init run again on an initialized Vault', () => {
  let vault: VaultServer;
  let dirs: VaultInitDirs;
  let env: Record<string, string>;
  let first: Record<string, string>;
  let root: VaultClient;
  const outputs: string[] = [];

  before(async () => {
    // 1/1: this story is about configuration, not about the seal; the 5/3 default has its own tests.
    ({ vault, dirs, env } = await vaultInitScene({ VAULT_SECRET_SHARES: '1', VAULT_SECRET_THRESHOLD: '1' }));
    await runOnceOk(env, outputs);
    first = snapshot(dirs);
    root = initRootClient(vault, dirs);
  });
  after(async () => {
    await vault?.stop();
  });

  test('the second run exits 0, does not initialize, changes nothing in Vault or on disk', async () => {
    const run = await runVaultInitOnce(env);
    outputs.push(run.output);
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /"step":"load-init-file"/);
    assert.doesNotMatch(run.output, /initializing Vault/);
    assert.doesNotMatch(run.output, /"level":"(error|warn)"/);
    assert.deepEqual(configureLine(run.output).changed, []);
    assert.deepEqual(snapshot(dirs), first);
    // The banner is printed on later starts too (VAULT_PRINT_ROOT_TOKEN=true by default).
    assert.match(run.output, /^Root Token: hvs\./m);
  });

  test('configure called directly twice in a row reports nothing changed', async () => {
    const config = loadConfig(env, []);
    const a = await configureVault(root, config);
    const b = await configureVault(root, config);
    assert.ok(
      Object.values(a.changes).every((c) => c === 'unchanged'),
      JSON.stringify(a.changes),
    );
    assert.ok(
      Object.values(b.changes).every((c) => c === 'unchanged'),
      JSON.stringify(b.changes),
    );
  });

  test('drift is repaired: a policy edited by hand, a role changed, a revoked secret_id, a missing operator token', async () => {
    const appPolicy = (await root.readPolicy('aurora-app'))!;
    await root.writePolicy('aurora-app', 'path "sys/*" { capabilities = ["sudo", "read"] }');
    await root.write('auth/approle/role/aurora-agent', { token_policies: ['default'] });
    await root.write('auth/approle/role/aurora-app/secret-id/destroy', { secret_id: first['approle/app/secret_id'] });
    fs.rmSync(path.join(dirs.cliDir, '.vault-token'));

    const run = await runVaultInitOnce(env);
    outputs.push(run.output);
    assert.equal(run.code, 0, run.output);
    assert.deepEqual(configureLine(run.output).changed.sort(), [
      'policy:aurora-app=updated',
      'role:aurora-agent=updated',
      'secret_id:aurora-app=updated',
      'token:operator=created',
    ]);
    assert.equal(await root.readPolicy('aurora-app'), appPolicy);
    const now = snapshot(dirs);
    assert.notEqual(now['approle/app/secret_id'], first['approle/app/secret_id']);
    assert.equal(now['approle/agent/secret_id'], first['approle/agent/secret_id'], 'a secret_id that works is kept');
    assert.equal(now['init/init.json'], first['init/init.json']);
    const login = await root.approleLogin(now['approle/app/role_id']!, now['approle/app/secret_id']!);
    assert.deepEqual(login.policies, ['aurora-app', 'default']);
  });

  test('the bootstrap admin secret is generated once and kept', async () => {
    const before = await root.kvRead('secret', 'aurora/admin');
    const run = await runVaultInitOnce(env);
    outputs.push(run.output);
    const afterwards = await root.kvRead('secret', 'aurora/admin');
    assert.equal(afterwards.version, before.version);
    assert.deepEqual(afterwards.data, before.data);
  });

  test('the banner alone is on stdout (what users grep); every log line is on stderr', () => {
    const res = spawnSync(serviceNode(), [vaultInitMain(), '--once'], {
      env: { PATH: process.env.PATH, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    outputs.push(res.stdout + res.stderr);
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stdout.trimEnd().split('\n');
    assert.equal(lines[0], '===================================================');
    assert.equal(lines[lines.length - 1], '===================================================');
    assert.equal(lines.filter((l) => l.startsWith('Root Token: hvs.')).length, 1);
    assert.ok(!lines.some((l) => l.startsWith('{')), 'no log line on stdout');
    assert.doesNotMatch(res.stderr, /Root Token:/);
    assert.ok(
      res.stderr
        .split('\n')
        .filter(Boolean)
        .every((l) => l.startsWith('{')),
      'stderr holds JSON log lines only',
    );
  });

  test('VAULT_PRINT_ROOT_TOKEN=false: the banner points at init.json and no line holds the token', async () => {
    const run = await runVaultInitOnce({ ...env, VAULT_PRINT_ROOT_TOKEN: 'false' });
    outputs.push(run.output);
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /Vault initialization complete!/);
    assert.match(run.output, /The root token is not printed \(VAULT_PRINT_ROOT_TOKEN=false\)/);
    assert.doesNotMatch(run.output, /Root Token:/);
    assert.ok(!run.output.includes(root.token));
  });

  test('no run printed a key or a token outside the banner line', async () => {
    const admin = (await root.kvRead('secret', 'aurora/admin')).data['client-secret']!;
    const secrets = [...secretsOnDisk(dirs), ...Object.values(first), admin];
    for (const out of outputs) assert.deepEqual(leakedLines(out, secrets), []);
  });
});
