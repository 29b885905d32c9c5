// User story: I set VAULT_REVOKE_ROOT_TOKEN=true. vault-init configures Vault, then revokes the root token in
// init.json, so no long-lived root token exists; restarts (of vault-init or of Vault) still unseal and
// configure, with a short-lived root token made from the unseal keys and revoked right after. When a job
// needs root, `node dist/print-root-token.js` (what `make root-token` runs in the container) prints a fresh one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { VaultClient } from '@aurora/common';
import { writeForeignInitFile } from '../support/foreign-init-file.js';
import { generateRootRunSteps, runOnceOk } from '../support/vault-init-runs.js';
import {
  VaultServer,
  lookupToken,
  generateRootStarted,
  repoRoot,
  waitFor,
  runVaultInitOnce,
  VaultInitProcess,
  type VaultInitDirs,
  serviceNode,
} from '@aurora/process';
import { vaultInitScene } from '../support/vault-init-scene.js';
import { leakedLines, secretsOnDisk } from '../support/leaks.js';

const EXIT_INIT_MATERIAL = 4;

/** vault-init's own `print-root-token.js` (what `make root-token` runs in the container), with only `env` set. */
function printRootToken(env: Record<string, string>): SpawnSyncReturns<string> {
  return spawnSync(serviceNode(), [path.join(repoRoot(), 'services', 'vault-init', 'dist', 'print-root-token.js')], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
}

describe('VAULT_REVOKE_ROOT_TOKEN=true: the root token is revoked after setup, and every later start still works', () => {
  let vault: VaultServer;
  let dirs: VaultInitDirs;
  let env: Record<string, string>;
  let client: VaultClient;
  let originalRoot: string;
  /** Everything any process printed, to scan for tokens at the end. */
  const outputs: string[] = [];
  /** The one token that may be printed: print-root-token.js's stdout. */
  let printedToken: string | undefined;

  before(async () => {
    ({ vault, dirs, env } = await vaultInitScene({ VAULT_REVOKE_ROOT_TOKEN: 'true' }));
    client = new VaultClient({ addr: vault.addr });
  });
  after(async () => {
    await vault?.stop();
  });

  async function assertUnsealedAndConfigured(): Promise<void> {
    const h = await client.health();
    assert.equal(h.sealed, false);
    assert.equal(h.standby, false);
    const app = path.join(dirs.approleDir, 'app');
    const login = await client
      .withToken('')
      .approleLogin(
        fs.readFileSync(path.join(app, 'role_id'), 'utf8'),
        fs.readFileSync(path.join(app, 'secret_id'), 'utf8'),
      );
    assert.deepEqual(login.policies, ['aurora-app', 'default']);
    const operator = fs.readFileSync(path.join(dirs.cliDir, '.vault-token'), 'utf8').trim();
    assert.deepEqual(
      (await lookupToken(vault.addr, operator)).policies,
      ['aurora-operator', 'default'],
      'the CLI keeps a limited operator token',
    );
    assert.equal(await generateRootStarted(vault.addr), false, 'no generate-root attempt left behind');
  }

  test('first run (--once): configures, then revokes the root token of init.json; the banner says so and prints no token', async () => {
    const run = await runOnceOk(env, outputs, {
      steps: ['wait', 'initialize', 'unseal', 'verify-root-token', 'configure', 'revoke-root-token', 'banner'],
    });
    const revoke = run.steps.find((s) => s.step === 'revoke-root-token');
    assert.deepEqual([revoke?.which, revoke?.result], ['init-file', 'revoked']);

    originalRoot = (JSON.parse(fs.readFileSync(path.join(dirs.initDir, 'init.json'), 'utf8')) as { root_token: string })
      .root_token;
    assert.match(originalRoot, /^hvs\./);
    assert.equal((await lookupToken(vault.addr, originalRoot)).status, 403, 'the old root token is refused');

    assert.match(run.output, /^Root Token: revoked after setup \(VAULT_REVOKE_ROOT_TOKEN=true\)\. .*make root-token$/m);
    assert.doesNotMatch(run.output, /Root Token: hvs\./);
    assert.ok(!run.output.includes(originalRoot));
    await assertUnsealedAndConfigured();
  });

  test('second run after a Vault restart (sealed): unseals, configures with a generated short-lived root token, revokes it', async () => {
    await vault.restart();
    const run = await runOnceOk(env, outputs, { steps: generateRootRunSteps(false) });
    const s = run.steps;
    assert.equal(s.find((x) => x.step === 'verify-root-token')?.valid, false);
    const revoke = s.find((x) => x.step === 'revoke-root-token');
    assert.deepEqual([revoke?.which, revoke?.result], ['generated', 'revoked']);
    assert.match(run.output, /^Root Token: revoked after setup/m);
    await assertUnsealedAndConfigured();
  });

  test('a rerun on an unsealed Vault (docker restart vault-init) works too and changes nothing', async () => {
    const run = await runOnceOk(env, outputs);
    const configure = run.steps.find((x) => x.step === 'configure');
    assert.deepEqual(configure?.changed, []);
    await assertUnsealedAndConfigured();
  });

  test('watch mode: Vault restarted twice, unsealed and configured again each time', async () => {
    const proc = VaultInitProcess.start(env);
    try {
      await proc.waitForOutput(/watching the seal status/);
      const health = async () => (await fetch(`http://127.0.0.1:${env.VAULT_INIT_HEALTH_PORT}/health`)).status;
      assert.equal(await health(), 200);
      for (let i = 0; i < 2; i++) {
        const before = (proc.output().match(/"step":"revoke-root-token"/g) ?? []).length;
        await vault.restart();
        await waitFor(
          'vault-init to unseal and configure again',
          async () => {
            if ((proc.output().match(/"step":"revoke-root-token"/g) ?? []).length <= before) return undefined;
            return (await health()) === 200 ? true : undefined;
          },
          30_000,
          50,
        );
      }
      await assertUnsealedAndConfigured();
      assert.equal((await lookupToken(vault.addr, originalRoot)).status, 403);
    } finally {
      const exit = await proc.stop();
      outputs.push(proc.output());
      assert.equal(exit.code, 0, proc.output());
    }
  });

  test('node services/vault-init/dist/print-root-token.js prints one fresh root token; it is the only root token Vault knows', async () => {
    const res = printRootToken({
      HOME: process.env.HOME ?? '/root',
      VAULT_ADDR: vault.addr,
      VAULT_INIT_DIR: dirs.initDir,
    });
    outputs.push(res.stderr);
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, 'stdout is the token and nothing else');
    printedToken = lines[0]!;
    assert.match(printedToken, /^hvs\.[A-Za-z0-9_-]{20,}$/);
    assert.notEqual(printedToken, originalRoot);
    assert.deepEqual((await lookupToken(vault.addr, printedToken)).policies, ['root']);
    assert.match(res.stderr, /revoke/);
    assert.equal(await generateRootStarted(vault.addr), false);

    // Every root token vault-init generated was revoked: the only one left is the one just printed.
    const root = client.withToken(printedToken);
    const accessors = await root.list('auth/token/accessors');
    const rootPolicy: string[] = [];
    for (const accessor of accessors) {
      const info = await root.write<{ data: { policies?: string[]; accessor: string } }>('auth/token/lookup-accessor', {
        accessor,
      });
      if (info.data.policies?.includes('root')) rootPolicy.push(info.data.accessor);
    }
    assert.equal(rootPolicy.length, 1, `root tokens known to Vault: ${rootPolicy.length}`);
  });

  test('print-root-token.js without init material: exit 4 with the ways out, nothing on stdout', () => {
    const res = printRootToken({ VAULT_ADDR: vault.addr, VAULT_INIT_DIR: path.join(dirs.root, 'nowhere') });
    outputs.push(res.stderr);
    assert.equal(res.status, EXIT_INIT_MATERIAL, res.stderr);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /init\.json is missing/);
  });

  test("another Vault's init file on an unsealed Vault: its keys cannot generate a root token either, exit 4", async () => {
    const initFile = path.join(dirs.initDir, 'init.json');
    const good = fs.readFileSync(initFile, 'utf8');
    await writeForeignInitFile(initFile, 5, 3);
    try {
      const run = await runVaultInitOnce(env);
      outputs.push(run.output);
      assert.equal(run.code, EXIT_INIT_MATERIAL, run.output);
      assert.match(
        run.output,
        /rejects the root token in .*init\.json .*its unseal keys cannot generate a new one: .*do not belong to this Vault/,
      );
      assert.match(run.output, /Two ways out:/);
      assert.equal(await generateRootStarted(vault.addr), false);
    } finally {
      fs.writeFileSync(initFile, good, { mode: 0o600 });
    }
  });

  test('with the option turned off again, the revoked token is the "rejects the root token" error (exit 4), with the hint', async () => {
    await vault.restart();
    const run = await runVaultInitOnce({ ...env, VAULT_REVOKE_ROOT_TOKEN: 'false' });
    outputs.push(run.output);
    assert.equal(run.code, EXIT_INIT_MATERIAL, run.output);
    assert.match(run.output, /rejects the root token in .*init\.json/);
    assert.match(run.output, /VAULT_REVOKE_ROOT_TOKEN/);
    // And back on: fine again.
    await runOnceOk(env, outputs);
    await assertUnsealedAndConfigured();
  });

  test('no output of any run holds a key or a token (the token print-root-token.js printed appears only on its stdout)', () => {
    const secrets = [...secretsOnDisk(dirs), ...(printedToken ? [printedToken] : [])];
    for (const out of outputs) assert.deepEqual(leakedLines(out, secrets), []);
  });
});
