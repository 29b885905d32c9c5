// User story: someone already mounted a KV version 1 engine (or something else) at the path the app's
// credentials should live at. vault-init does not silently reuse it (the app relies on versions and
// metadata): it stops with exit 5 and says how to fix it, and nothing in that mount is touched.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { VaultClient } from '@aurora/common';
import { VaultServer, initAndUnseal, runVaultInitOnce, startVault, vaultInitDirs, vaultInitEnv } from '@aurora/process';
import { ensureKvV2 } from '@aurora/vault-init/configure/kv';
import { VaultObjectConflictError } from '@aurora/vault-init/errors';

describe('another engine at the KV mount', () => {
  let vault: VaultServer;
  let root: VaultClient;

  before(async () => {
    vault = await startVault();
    const { rootToken } = await initAndUnseal(vault);
    root = new VaultClient({ addr: vault.addr, token: rootToken });
    await root.enableSecretsEngine('legacy', 'kv', { version: '1' });
    await root.write('legacy/users/alice', { token: 'canary-kv1' });
    await root.enableSecretsEngine('transit', 'transit');
  });
  after(async () => {
    await vault?.stop();
  });

  test('KV v1: a VaultObjectConflictError that names the fix; the data stays', async () => {
    await assert.rejects(ensureKvV2(root, 'legacy'), (err: Error) => {
      assert.ok(err instanceof VaultObjectConflictError);
      assert.match(err.message, /legacy\/ .* is a KV version 1 engine, not KV version 2/);
      assert.match(err.message, /vault kv enable-versioning legacy\//);
      return true;
    });
    assert.deepEqual((await root.read<{ data: unknown }>('legacy/users/alice')).data, { token: 'canary-kv1' });
  });

  test('another engine type: a VaultObjectConflictError naming the type', async () => {
    await assert.rejects(ensureKvV2(root, 'transit'), /transit\/ .* is a "transit" secrets engine/);
  });

  test('KV v2 already there: unchanged; missing: created', async () => {
    assert.equal(await ensureKvV2(root, 'fresh'), 'created');
    assert.equal(await ensureKvV2(root, 'fresh'), 'unchanged');
  });

  test('vault-init as a process: exit 5, the message, and the mount still KV v1', async () => {
    // vault-init needs its own Vault (it must hold the init file); same conflict there.
    const own = await startVault();
    try {
      const dirs = vaultInitDirs();
      const env = await vaultInitEnv(own, dirs, {
        VAULT_SECRET_SHARES: '1',
        VAULT_SECRET_THRESHOLD: '1',
        VAULT_KV_MOUNT: 'legacy',
      });
      // First run sets everything up at "legacy" as KV v2; replace it by a v1 engine, as a user might.
      assert.equal((await runVaultInitOnce(env)).code, 0);
      const fs = await import('node:fs');
      const token = (JSON.parse(fs.readFileSync(`${dirs.initDir}/init.json`, 'utf8')) as { root_token: string })
        .root_token;
      const c = new VaultClient({ addr: own.addr, token });
      await c.delete('sys/mounts/legacy');
      await c.enableSecretsEngine('legacy', 'kv', { version: '1' });
      const run = await runVaultInitOnce(env);
      assert.equal(run.code, 5, run.output);
      assert.match(run.output, /legacy\/ in Vault at .* is a KV version 1 engine/);
      assert.equal((await c.mounts())['legacy/']?.options?.version, '1');
    } finally {
      await own.stop();
    }
  });
});
