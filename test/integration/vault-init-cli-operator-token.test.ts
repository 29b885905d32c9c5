// User story: in the vault container the CLI just works, the first time and after every restart:
// `docker exec -it vault vault kv put aurora/users/test-secret value=hello`, `kv get`, `kv list`,
// `vault token capabilities aurora/users/`, and the Client secret at secret/aidbox/client, all without
// exporting a token. vault-init leaves a limited operator token where the CLI's token helper looks
// (~/.vault-token; in compose the vault-cli volume is /root of the vault container). The old habit,
// VAULT_TOKEN set by hand, keeps working. The operator cannot seal, read keys, or change policies.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient } from '@aurora/common';
import {
  VaultServer,
  runVaultInitOnce,
  startVault,
  vaultInitDirs,
  vaultInitEnv,
  VaultInitProcess,
  type VaultInitDirs,
  waitFor,
} from '@aurora/process';

describe("the user's CLI walkthrough with the operator token helper", () => {
  let vault: VaultServer;
  let dirs: VaultInitDirs;
  let env: Record<string, string>;
  let cliEnv: Record<string, string>;
  let rootToken: string;

  before(async () => {
    vault = await startVault();
    dirs = vaultInitDirs();
    env = await vaultInitEnv(vault, dirs, { VAULT_SECRET_SHARES: '1', VAULT_SECRET_THRESHOLD: '1' });
    const run = await runVaultInitOnce(env);
    assert.equal(run.code, 0, run.output);
    rootToken = (JSON.parse(fs.readFileSync(path.join(dirs.initDir, 'init.json'), 'utf8')) as { root_token: string })
      .root_token;
    // As in the container: HOME holds .vault-token, VAULT_TOKEN is set but empty (compose: ${VAULT_TOKEN:-}).
    cliEnv = { HOME: dirs.cliDir, VAULT_TOKEN: '' };
  });
  after(async () => {
    await vault?.stop();
  });

  test('.vault-token is 0600 and holds a periodic token with aurora-operator + default, not the root token', async () => {
    const file = path.join(dirs.cliDir, '.vault-token');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const token = fs.readFileSync(file, 'utf8');
    assert.notEqual(token, rootToken);
    const info = await new VaultClient({ addr: vault.addr, token }).read<{
      data: { policies: string[]; period: number; orphan: boolean };
    }>('auth/token/lookup-self');
    assert.deepEqual(info.data.policies, ['aurora-operator', 'default']);
    assert.ok(info.data.period > 0);
    assert.equal(info.data.orphan, true);
  });

  test('vault kv put / get / list under aurora/users/', () => {
    assert.match(vault.cli(['kv', 'put', 'aurora/users/test-secret', 'value=hello'], cliEnv), /version\s+1/);
    assert.match(vault.cli(['kv', 'get', 'aurora/users/test-secret'], cliEnv), /value\s+hello/);
    assert.match(vault.cli(['kv', 'get', '-field=value', 'aurora/users/test-secret'], cliEnv), /^hello\s*$/);
    assert.match(vault.cli(['kv', 'list', 'aurora/users/'], cliEnv), /test-secret/);
  });

  test('vault token capabilities aurora/users/ shows the rights', () => {
    const caps = vault.cli(['token', 'capabilities', 'aurora/users/'], cliEnv).trim();
    assert.notEqual(caps, 'deny');
    assert.match(caps, /read/);
    assert.match(caps, /list/);
    assert.match(vault.cli(['token', 'capabilities', 'aurora/data/users/test-secret'], cliEnv), /create.*read.*update/);
  });

  test('the Client secret: vault kv put secret/aidbox/client client-secret=...', () => {
    vault.cli(['kv', 'put', 'secret/aidbox/client', 'client-secret=canary-cli-3b9e'], cliEnv);
    assert.match(
      vault.cli(['kv', 'get', '-field=client-secret', 'secret/aidbox/client'], cliEnv),
      /^canary-cli-3b9e\s*$/,
    );
  });

  test('read-only views work; seal, policy, auth, mount and audit changes are denied', () => {
    assert.match(vault.cli(['secrets', 'list'], cliEnv), /aurora\//);
    assert.match(vault.cli(['policy', 'read', 'aurora-app'], cliEnv), /aurora\/data\/users/);
    for (const args of [
      ['operator', 'seal'],
      ['policy', 'write', 'aurora-app', '-'],
      ['auth', 'enable', 'userpass'],
      ['secrets', 'enable', '-path=other', 'kv'],
      ['audit', 'disable', 'file'],
      ['token', 'create', '-policy=root'],
      ['write', '-f', 'auth/approle/role/aurora-app/secret-id'],
    ]) {
      assert.throws(() => vault.cli(args, cliEnv), /permission denied|403/, args.join(' '));
    }
  });

  test('the old habit: VAULT_TOKEN set to the root token still works', () => {
    assert.match(
      vault.cli(['kv', 'get', '-field=value', 'aurora/users/test-secret'], {
        HOME: dirs.cliDir,
        VAULT_TOKEN: rootToken,
      }),
      /^hello\s*$/,
    );
  });

  test('after a Vault restart and a vault-init restart the same token file keeps working', async () => {
    const before = fs.readFileSync(path.join(dirs.cliDir, '.vault-token'), 'utf8');
    await vault.restart();
    const proc = VaultInitProcess.start(env);
    try {
      await proc.waitForOutput(/watching the seal status/);
      await waitFor('unsealed', async () =>
        (await new VaultClient({ addr: vault.addr }).sealStatus()).sealed ? undefined : true,
      );
      assert.equal(fs.readFileSync(path.join(dirs.cliDir, '.vault-token'), 'utf8'), before, 'reused, not replaced');
      assert.match(vault.cli(['kv', 'list', 'aurora/users/'], cliEnv), /test-secret/);
    } finally {
      await proc.stop();
    }
  });
});
