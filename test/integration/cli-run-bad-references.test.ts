// User story: a bad `vault:` reference — malformed, trying to climb out of its path, on a mount that does
// not exist, or one the identity may not read — and a sealed Vault stop `aurora-secrets run` before anything
// starts: exit 2, a message naming the variable and the reference and saying what to do, and no secret value
// anywhere in the output (a good reference next to the bad one is not leaked either).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CliVault, childScript, runCli } from '../support/cli.js';
import { tempDir, waitFor } from '@aurora/process';
import { VaultClient } from '@aurora/common';

describe('aurora-secrets run refuses bad references and starts nothing', () => {
  let stack: CliVault;
  let marker: string;
  let command: string[];
  const good = `ghp-${crypto.randomBytes(16).toString('base64url')}`;
  const privateValue = `ops-${crypto.randomBytes(16).toString('base64url')}`;

  before(async () => {
    stack = await CliVault.start();
    await stack.operator.kvWrite('aurora', 'users/u1/github', { token: good });
    // Outside the app's policy (aurora/data/users/* and secret/data/*): readable by the operator only.
    await stack.operator.kvWrite('aurora', 'private/ops', { key: privateValue });
    const script = childScript('marker.mjs', `import fs from 'node:fs'; fs.writeFileSync(process.argv[2], 'ran');`);
    marker = path.join(tempDir('cli-bad'), 'ran');
    command = ['run', '--', 'node', script, marker];
  });
  after(async () => {
    await stack?.stop();
  });

  const refused = async (variable: string, reference: string, expected: RegExp, extraEnv = {}) => {
    const res = await runCli(command, {
      ...stack.appEnv(),
      GOOD_TOKEN: 'vault:kv/data/aurora/users/u1/github#token',
      [variable]: reference,
      ...extraEnv,
    });
    assert.equal(res.code, 2, `${variable}=${reference}: ${res.stderr}`);
    assert.match(res.stderr, expected);
    assert.match(res.stderr, new RegExp(`error: ${variable}: `));
    assert.match(res.stderr, /nothing was started/);
    assert.equal(fs.existsSync(marker), false, 'the command must not have run');
    for (const v of [good, privateValue]) assert.ok(!res.stdout.includes(v) && !res.stderr.includes(v), res.stderr);
    return res;
  };

  test('malformed references', async () => {
    await refused('A', 'vault:secret/db', /A: "vault:secret\/db" is not a valid vault: reference .*must start with/);
    await refused('B', 'vault:kv/data/aurora', /B: .* must be vault:kv\/data\/<mount>\/<path>/);
    await refused('C', 'vault:kv/data/aurora/users/u1/github#', /C: .*reference key \(after #\): must not be empty/);
    await refused('D', 'vault:kv/data/aurora/users/u1/github#a#b', /D: .*reference key/);
    await refused('E', 'vault:kv/data/aurora/users/u1 github#token', /E: .*reference path/);
  });

  test('path traversal is refused before Vault is asked', async () => {
    await refused('UP', 'vault:kv/data/aurora/users/../private/ops#key', /UP: .*without "\.\."/);
    await refused('UP2', 'vault:kv/data/aurora/users/%2e%2e/private/ops#key', /UP2: .*reference path/);
    await refused('UP3', 'vault:kv/data/../sys/seal#x', /UP3: .*reference mount/);
  });

  test('an unknown mount and a path the policy denies name the policy path to grant', async () => {
    await refused(
      'NOMOUNT',
      'vault:kv/data/nomount/x#k',
      /NOMOUNT: Vault denied .*"nomount\/data\/x".*no mount "nomount"/,
    );
    await refused(
      'PRIVATE',
      'vault:kv/data/aurora/private/ops#key',
      /PRIVATE: Vault denied reading "vault:kv\/data\/aurora\/private\/ops#key" to AppRole \(.*\) \(policies: .*aurora-app.*\): a policy must grant "read" on path "aurora\/data\/private\/ops"/,
    );
  });

  test('several bad references are all reported at once', async () => {
    const res = await refused('X1', 'vault:kv/data/aurora/private/ops#key', /X1: Vault denied/, {
      X2: 'vault:kv/data/aurora/users/u1/none#k',
    });
    assert.match(res.stderr, /X2: nothing is stored at/);
    assert.match(res.stderr, /2 reference\(s\) could not be resolved/);
  });

  test('a sealed Vault: exit 2, saying it is sealed and will be unsealed', async () => {
    const root = new VaultClient({ addr: stack.vault.addr, token: stack.rootToken });
    await root.write('sys/seal', {});
    try {
      const res = await runCli(command, {
        VAULT_ADDR: stack.vault.addr,
        VAULT_TOKEN: stack.operator.token,
        GOOD_TOKEN: 'vault:kv/data/aurora/users/u1/github#token',
      });
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /sealed/i);
      assert.equal(fs.existsSync(marker), false);
      assert.ok(!res.stderr.includes(good));
    } finally {
      const init = JSON.parse(fs.readFileSync(path.join(stack.dirs.initDir, 'init.json'), 'utf8')) as {
        keys_base64: string[];
      };
      await root.unseal(init.keys_base64[0]!);
      await waitFor('Vault to be unsealed', async () => ((await root.health()).sealed ? undefined : true));
    }
  });
});
