// User story: on a brand-new Vault, one `vault-init --once` initializes it, saves the keys safely before
// anything else, unseals and configures it, prints a root token that works, and leaves the app AppRole
// credentials that can do the app's job and nothing more. Nothing but the banner ever shows a key or token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient, VaultForbiddenError } from '@aurora/common';
import {
  VaultServer,
  leakedLines,
  runVaultInitOnce,
  secretsOnDisk,
  startVault,
  vaultInitDirs,
  vaultInitEnv,
  type VaultInitDirs,
} from '@aurora/process';
import { desiredPolicies } from '@aurora/vault-init/configure/policies';
import { loadConfig } from '@aurora/vault-init/config';

const mode = (f: string) => fs.statSync(f).mode & 0o777;

describe('vault-init on a fresh Vault (default 5 shares, threshold 3)', () => {
  let vault: VaultServer;
  let dirs: VaultInitDirs;
  let env: Record<string, string>;
  let run: Awaited<ReturnType<typeof runVaultInitOnce>>;
  let root: VaultClient;
  let rootToken: string;

  before(async () => {
    vault = await startVault();
    dirs = vaultInitDirs();
    env = await vaultInitEnv(vault, dirs);
    run = await runVaultInitOnce(env);
  });
  after(async () => {
    await vault?.stop();
  });

  test('exits 0 and logs one line per step with its duration', () => {
    assert.equal(run.code, 0, run.output);
    const steps = run.output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { step?: string; durationMs?: number })
      .filter((e) => e.step !== undefined);
    assert.deepEqual(
      steps.map((s) => s.step),
      ['wait', 'initialize', 'unseal', 'verify-root-token', 'configure', 'banner'],
    );
    for (const s of steps) assert.equal(typeof s.durationMs, 'number');
  });

  test('init.json: mode 0600, the whole sys/init answer plus shares and threshold', () => {
    const file = path.join(dirs.initDir, 'init.json');
    assert.equal(mode(file), 0o600);
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    assert.equal((m.keys as string[]).length, 5);
    assert.equal((m.keys_base64 as string[]).length, 5);
    assert.match(m.root_token as string, /^hvs\./);
    assert.equal(m.shares, 5);
    assert.equal(m.threshold, 3);
    assert.ok(!Number.isNaN(Date.parse(m.initialized_at as string)));
    assert.ok(!fs.existsSync(path.join(dirs.initDir, 'init.json.tmp')), 'no temp file left behind');
    rootToken = m.root_token as string;
  });

  test("the banner's Root Token line holds the root token, and it works", async () => {
    const line = run.output.split('\n').find((l) => l.startsWith('Root Token: '));
    assert.equal(line, `Root Token: ${rootToken}`);
    assert.match(run.output, /={10,}\nVault initialization complete!\nRoot Token: hvs\.\S+\n/);
    assert.match(run.output, /app does NOT need this token/);
    assert.match(run.output, new RegExp(`Vault UI: +${vault.addr}/ui`));
    root = new VaultClient({ addr: vault.addr, token: rootToken });
    assert.deepEqual((await root.lookupSelf()).policies, ['root']);
  });

  test('Vault is unsealed and active; KV v2 at aurora/ and secret/; the policies as rendered from vault/policies', async () => {
    const h = await root.health();
    assert.equal(h.sealed, false);
    assert.equal(h.standby, false);
    const mounts = await root.mounts();
    for (const m of ['aurora/', 'secret/']) {
      assert.equal(mounts[m]?.type, 'kv');
      assert.equal(mounts[m]?.options?.version, '2');
    }
    const desired = await desiredPolicies(loadConfig(env, []));
    assert.deepEqual([...desired.keys()].sort(), [
      'aurora-agent',
      'aurora-app',
      'aurora-metrics',
      'aurora-operator',
      'aurora-vault-init',
    ]);
    for (const [name, text] of desired) assert.equal(await root.readPolicy(name), text);
    assert.match(desired.get('aurora-app')!, /path "aurora\/data\/users\/\*"/);
    assert.match(desired.get('aurora-agent')!, /path "secret\/data\/aidbox\/client" \{\n {2}capabilities = \["read"\]/);
  });

  test("the app's AppRole files (0600) log in; the token writes and reads aurora/data/users/*, and gets 403 elsewhere", async () => {
    const roleId = path.join(dirs.approleDir, 'app', 'role_id');
    const secretId = path.join(dirs.approleDir, 'app', 'secret_id');
    assert.equal(mode(roleId), 0o600);
    assert.equal(mode(secretId), 0o600);
    const login = await new VaultClient({ addr: vault.addr }).approleLogin(
      fs.readFileSync(roleId, 'utf8'),
      fs.readFileSync(secretId, 'utf8'),
    );
    assert.deepEqual(login.policies, ['aurora-app', 'default']);
    assert.equal(login.leaseDuration, 3600);
    const app = new VaultClient({ addr: vault.addr, token: login.token });
    await app.kvWrite('aurora', 'users/alice/github', { token: 'canary-fresh-start-7d1f' });
    assert.deepEqual((await app.kvRead('aurora', 'users/alice/github')).data, { token: 'canary-fresh-start-7d1f' });
    assert.deepEqual(await app.kvList('aurora', 'users/'), ['alice/']);
    await assert.rejects(app.read('sys/mounts'), VaultForbiddenError);
    await assert.rejects(app.read('sys/policies/acl/aurora-app'), VaultForbiddenError);
    await assert.rejects(app.kvWrite('secret', 'aidbox/client', { 'client-secret': 'x' }), VaultForbiddenError);
    await assert.rejects(app.kvWrite('aurora', 'admin/x', { a: 'b' }), VaultForbiddenError);
    await assert.rejects(app.kvRead('aurora', 'other/x'), VaultForbiddenError);
    // Read on secret/data/* is what the app needs for the secrets Clients name.
    assert.equal(typeof (await app.kvRead('secret', 'aurora/admin')).data['client-secret'], 'string');
  });

  test("the agent's AppRole reads exactly the listed secrets", async () => {
    const dir = path.join(dirs.approleDir, 'agent');
    assert.equal(mode(path.join(dir, 'secret_id')), 0o600);
    const login = await new VaultClient({ addr: vault.addr }).approleLogin(
      fs.readFileSync(path.join(dir, 'role_id'), 'utf8'),
      fs.readFileSync(path.join(dir, 'secret_id'), 'utf8'),
    );
    assert.deepEqual(login.policies, ['aurora-agent', 'default']);
    const agent = new VaultClient({ addr: vault.addr, token: login.token });
    const admin = await agent.kvRead('secret', 'aurora/admin');
    assert.match(
      admin.data['client-secret']!,
      /^[A-Za-z0-9_-]{43}$/,
      'the bootstrap admin secret: 32 random bytes, base64url',
    );
    await assert.rejects(agent.kvRead('aurora', 'users/alice/github'), VaultForbiddenError);
    await assert.rejects(agent.kvRead('secret', 'aurora/other'), VaultForbiddenError);
    await assert.rejects(agent.kvWrite('secret', 'aidbox/client', { 'client-secret': 'x' }), VaultForbiddenError);
  });

  test('the file audit device records requests, with secret values HMACed', async () => {
    const devices = await root.auditDevices();
    assert.equal(devices['file/']?.type, 'file');
    assert.equal(devices['file/']?.options.file_path, dirs.auditFile);
    const audit = fs.readFileSync(dirs.auditFile, 'utf8');
    assert.match(audit, /aurora\/data\/users\/alice\/github/);
    assert.match(audit, /"token":"hmac-sha256:/);
    assert.doesNotMatch(audit, /canary-fresh-start-7d1f/);
    assert.ok(!audit.includes(rootToken));
  });

  test('no key or token anywhere in the output but the banner line', async () => {
    const admin = (await root.kvRead('secret', 'aurora/admin')).data['client-secret']!;
    const secrets = [...secretsOnDisk(dirs), admin];
    assert.ok(secrets.length >= 5 * 2 + 1 + 2 + 1 + 1);
    assert.deepEqual(leakedLines(run.output, secrets), []);
  });
});
