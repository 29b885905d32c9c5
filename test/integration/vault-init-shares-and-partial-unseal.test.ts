// User story: the key shares and threshold are the user's choice (1/1 for a laptop, 5/3 as Vault
// recommends), validated as Vault validates them; and when someone left a half-done unseal behind
// (`vault operator unseal` with one key, then gone), vault-init discards that progress and unseals anyway.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient } from '@aurora/common';
import { VaultServer, runVaultInitOnce, startVault, vaultInitDirs, vaultInitEnv } from '@aurora/process';
import { loadConfig, shamirProblem } from '@aurora/vault-init/config';

describe('key shares and threshold', () => {
  for (const [shares, threshold] of [
    [1, 1],
    [5, 3],
  ] as const) {
    test(`${shares}/${threshold}: initialized with ${shares} key(s), unsealed with ${threshold}`, async () => {
      const vault = await startVault();
      try {
        const dirs = vaultInitDirs();
        const env = await vaultInitEnv(vault, dirs, {
          VAULT_SECRET_SHARES: String(shares),
          VAULT_SECRET_THRESHOLD: String(threshold),
        });
        const run = await runVaultInitOnce(env);
        assert.equal(run.code, 0, run.output);
        const m = JSON.parse(fs.readFileSync(path.join(dirs.initDir, 'init.json'), 'utf8')) as {
          keys_base64: string[];
          threshold: number;
        };
        assert.equal(m.keys_base64.length, shares);
        assert.equal(m.threshold, threshold);
        const status = await new VaultClient({ addr: vault.addr }).sealStatus();
        assert.deepEqual([status.sealed, status.n, status.t], [false, shares, threshold]);
        const unsealLine = run.output.split('\n').find((l) => l.includes('"step":"unseal"'));
        assert.equal((JSON.parse(unsealLine!) as { keysSubmitted: number }).keysSubmitted, threshold);
      } finally {
        await vault.stop();
      }
    });
  }

  test("Vault's rules: 1 <= threshold <= shares <= 255, and threshold > 1 when shares > 1", () => {
    assert.equal(shamirProblem(1, 1), undefined);
    assert.equal(shamirProblem(5, 3), undefined);
    assert.equal(shamirProblem(255, 255), undefined);
    assert.match(shamirProblem(3, 1)!, /greater than one for multiple shares/);
    assert.match(shamirProblem(3, 4)!, /cannot be larger/);
    assert.match(shamirProblem(256, 3)!, /at most 255/);
    assert.match(shamirProblem(0, 0)!, /at least one/);
  });

  test('a bad combination stops vault-init with exit 2, naming both variables, before it touches Vault', async () => {
    const vault = await startVault();
    try {
      const env = await vaultInitEnv(vault, vaultInitDirs(), {
        VAULT_SECRET_SHARES: '3',
        VAULT_SECRET_THRESHOLD: '1',
        VAULT_WATCH_INTERVAL_MS: 'soon',
      });
      const run = await runVaultInitOnce(env);
      assert.equal(run.code, 2, run.output);
      assert.match(
        run.output,
        /VAULT_SECRET_SHARES=3 with VAULT_SECRET_THRESHOLD=1: secret threshold must be greater than one for multiple shares/,
      );
      assert.match(run.output, /VAULT_WATCH_INTERVAL_MS="soon" must be a whole number/);
      assert.equal((await new VaultClient({ addr: vault.addr }).health()).initialized, false);
      assert.throws(() => loadConfig({ VAULT_KV_MOUNT: 'sys' }, []), /VAULT_KV_MOUNT="sys" is reserved/);
      assert.throws(() => loadConfig({}, ['--twice']), /unknown argument/);
      assert.equal(loadConfig({}, ['--once']).once, true);
    } finally {
      await vault.stop();
    }
  });
});

describe('partial unseal progress left by another client', () => {
  let vault: VaultServer;
  let env: Record<string, string>;
  let keys: string[];
  let client: VaultClient;

  before(async () => {
    vault = await startVault();
    const dirs = vaultInitDirs();
    env = await vaultInitEnv(vault, dirs);
    const run = await runVaultInitOnce(env);
    assert.equal(run.code, 0, run.output);
    keys = (JSON.parse(fs.readFileSync(path.join(dirs.initDir, 'init.json'), 'utf8')) as { keys_base64: string[] })
      .keys_base64;
    client = new VaultClient({ addr: vault.addr });
  });
  after(async () => {
    await vault?.stop();
  });

  test('one valid key submitted by someone else: discarded, then unsealed with ours', async () => {
    await vault.restart();
    assert.equal((await client.unseal(keys[4]!)).progress, 1);
    const run = await runVaultInitOnce(env);
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /discarding partial unseal progress left by another client/);
    assert.match(run.output, /"discardedProgress":1/);
    assert.equal((await client.sealStatus()).sealed, false);
  });

  test('two keys of someone else (one of them a wrong key of the right shape): discarded, then unsealed', async () => {
    await vault.restart();
    await client.unseal(keys[3]!);
    const wrong = Buffer.from(keys[0]!, 'base64');
    wrong[0] = (wrong[0]! + 1) % 256;
    await client.unseal(wrong.toString('base64'));
    assert.equal((await client.sealStatus()).progress, 2);
    const run = await runVaultInitOnce(env);
    assert.equal(run.code, 0, run.output);
    assert.equal((await client.sealStatus()).sealed, false);
  });
});
