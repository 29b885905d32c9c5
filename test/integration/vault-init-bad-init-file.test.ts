// User story: the init file is lost, damaged or swapped for another Vault's. vault-init stops with a non-zero
// exit and a message that says exactly what happened and the two ways out (restore the file, or
// `make prod-local-clean`), and it never initializes again, never deletes, never touches Vault's data.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient } from '@aurora/common';
import {
  VaultServer,
  initAndUnseal,
  leakedLines,
  runVaultInitOnce,
  secretsOnDisk,
  startVault,
  vaultInitDirs,
  vaultInitEnv,
  type VaultInitDirs,
} from '@aurora/process';

const EXIT_INIT_MATERIAL = 4;

/** Every file of Vault's storage and its hash: "untouched" means equal before and after. */
function storageDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

function assertWaysOut(output: string): void {
  assert.match(output, /Two ways out:/);
  assert.match(output, /restore .*init\.json from your backup/);
  assert.match(output, /make prod-local-clean/);
  assert.match(output, /DESTROYS ALL SECRETS/);
  assert.match(output, /never re-initializes an initialized Vault and never deletes anything/);
}

describe('vault-init with a missing, corrupt or foreign init file', () => {
  let vault: VaultServer;
  let dirs: VaultInitDirs;
  let env: Record<string, string>;
  let initFile: string;
  let good: string;
  let client: VaultClient;
  const outputs: string[] = [];

  before(async () => {
    vault = await startVault();
    dirs = vaultInitDirs();
    env = await vaultInitEnv(vault, dirs);
    const run = await runVaultInitOnce(env);
    assert.equal(run.code, 0, run.output);
    outputs.push(run.output);
    initFile = path.join(dirs.initDir, 'init.json');
    good = fs.readFileSync(initFile, 'utf8');
    client = new VaultClient({ addr: vault.addr });
  });
  after(async () => {
    await vault?.stop();
  });

  /** Restarts Vault (sealed), runs vault-init, checks the refusal and that storage is byte-for-byte unchanged. */
  async function refuses(pattern: RegExp): Promise<string> {
    await vault.restart();
    const before = storageDigest(vault.dataDir);
    const run = await runVaultInitOnce(env);
    outputs.push(run.output);
    assert.equal(run.code, EXIT_INIT_MATERIAL, run.output);
    assert.match(run.output, pattern);
    assertWaysOut(run.output);
    assert.doesNotMatch(run.output, /initializing Vault/);
    const status = await client.sealStatus();
    assert.equal(status.initialized, true);
    assert.equal(status.sealed, true);
    assert.equal(status.progress, 0, 'no partial unseal progress left behind');
    assert.deepEqual(storageDigest(vault.dataDir), before, 'Vault storage untouched');
    return run.output;
  }

  test('missing: exit 4, says the file is missing', async () => {
    fs.renameSync(initFile, `${initFile}.moved`);
    await refuses(/Vault is initialized, but its init file .*init\.json is missing/);
    assert.ok(!fs.existsSync(initFile), 'not recreated');
    fs.renameSync(`${initFile}.moved`, initFile);
  });

  test('missing with a leftover init.json.tmp: the message points at it', async () => {
    fs.renameSync(initFile, path.join(dirs.initDir, 'init.json.tmp'));
    await refuses(/A leftover .*init\.json\.tmp exists/);
    fs.renameSync(path.join(dirs.initDir, 'init.json.tmp'), initFile);
  });

  test('unreadable (a directory in its place): exit 4', async () => {
    fs.renameSync(initFile, `${initFile}.moved`);
    fs.mkdirSync(initFile);
    await refuses(/init file .*init\.json cannot be read/);
    fs.rmdirSync(initFile);
    fs.renameSync(`${initFile}.moved`, initFile);
  });

  test('corrupt (truncated JSON): exit 4, says corrupt, never quotes the content', async () => {
    fs.writeFileSync(initFile, good.slice(0, 60), { mode: 0o600 });
    const out = await refuses(/init file .*init\.json is corrupt \(not valid JSON/);
    assert.ok(!out.includes(good.slice(20, 60)));
    fs.writeFileSync(initFile, JSON.stringify({ keys_base64: [], root_token: '' }), { mode: 0o600 });
    await refuses(/is corrupt: "keys_base64" is missing/);
  });

  test("another Vault's file (same 5/3 shape): Vault rejects its keys, exit 4", async () => {
    const other = await startVault();
    try {
      const foreign = await initAndUnseal(other, 5, 3);
      fs.writeFileSync(
        initFile,
        JSON.stringify({ keys_base64: foreign.keys, root_token: foreign.rootToken, shares: 5, threshold: 3 }),
        { mode: 0o600 },
      );
    } finally {
      await other.stop();
    }
    await refuses(/rejected the unseal keys in .*init\.json .*belongs to another Vault/);
  });

  test("another Vault's file with fewer keys than this Vault's threshold: exit 4", async () => {
    const other = await startVault();
    try {
      const foreign = await initAndUnseal(other, 1, 1);
      fs.writeFileSync(
        initFile,
        JSON.stringify({ keys_base64: foreign.keys, root_token: foreign.rootToken, shares: 1, threshold: 1 }),
        { mode: 0o600 },
      );
    } finally {
      await other.stop();
    }
    await refuses(/holds 1 unseal key\(s\) but Vault .* needs 3/);
  });

  test('the right keys but a root token Vault does not know: exit 4', async () => {
    const m = JSON.parse(good) as { root_token: string };
    fs.writeFileSync(
      initFile,
      JSON.stringify({ ...m, root_token: 'hvs.CAESIDoesNotExistInThisVaultAtAllxxxxxxxxxxxx' }),
      { mode: 0o600 },
    );
    await vault.restart();
    const run = await runVaultInitOnce(env);
    outputs.push(run.output);
    assert.equal(run.code, EXIT_INIT_MATERIAL, run.output);
    assert.match(run.output, /rejects the root token in .*init\.json/);
    assertWaysOut(run.output);
  });

  test('the original file restored: vault-init succeeds again, nothing was lost', async () => {
    fs.writeFileSync(initFile, good, { mode: 0o600 });
    await vault.restart();
    const run = await runVaultInitOnce(env);
    outputs.push(run.output);
    assert.equal(run.code, 0, run.output);
    assert.equal(fs.readFileSync(initFile, 'utf8'), good);
  });

  test('a Vault that is NOT initialized while an init file exists: exit 4, the file is kept, Vault stays uninitialized', async () => {
    const fresh = await startVault();
    try {
      const freshEnv = { ...env, VAULT_ADDR: fresh.addr };
      const run = await runVaultInitOnce(freshEnv);
      outputs.push(run.output);
      assert.equal(run.code, EXIT_INIT_MATERIAL, run.output);
      assert.match(run.output, /is NOT initialized, but .*init\.json exists/);
      assertWaysOut(run.output);
      assert.equal(fs.readFileSync(initFile, 'utf8'), good);
      assert.equal((await new VaultClient({ addr: fresh.addr }).health()).initialized, false);
    } finally {
      await fresh.stop();
    }
  });

  test('an init directory vault-init cannot write: exit 6 BEFORE Vault is initialized (keys that cannot be saved are never asked for)', async () => {
    const fresh = await startVault();
    try {
      const blocker = path.join(dirs.root, 'not-a-dir');
      fs.writeFileSync(blocker, '');
      const run = await runVaultInitOnce({
        ...env,
        VAULT_ADDR: fresh.addr,
        VAULT_INIT_DIR: path.join(blocker, 'init'),
      });
      outputs.push(run.output);
      assert.equal(run.code, 6, run.output);
      assert.match(run.output, /cannot write the init file into .*not-a-dir\/init: .*Vault was NOT initialized/);
      assert.doesNotMatch(run.output, /initializing Vault/);
      assert.equal((await new VaultClient({ addr: fresh.addr }).health()).initialized, false);
    } finally {
      await fresh.stop();
    }
  });

  test('no run printed a key or a token outside the banner line', () => {
    const secrets = secretsOnDisk(dirs);
    for (const out of outputs) assert.deepEqual(leakedLines(out, secrets), []);
  });
});
