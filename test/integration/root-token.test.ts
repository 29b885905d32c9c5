// User story: the root token has been revoked (as root-token hygiene wants); when a job needs root, I run
// `make root-token` and get a fresh one, generated from the unseal keys in init.json, printed once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  repoRoot,
  tempDir,
  TSX_NODE_ARGS,
  initAndUnseal,
  type VaultServer,
  lookupToken,
  generateRootStarted,
  startVault,
} from '@aurora/process';
import { VaultClient, decodeRootToken } from '@aurora/common';

function rootTokenScript(
  env: Record<string, string>,
  args: string[] = [],
): { code: number | null; stdout: string; stderr: string } {
  const res = spawnSync(
    process.execPath,
    [...TSX_NODE_ARGS, path.join(repoRoot(), 'scripts', 'root-token.ts'), ...args],
    {
      cwd: repoRoot(),
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    },
  );
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('make root-token generates a working root token after the original was revoked', () => {
  let vault: VaultServer;
  let initFile: string;
  let init: { rootToken: string; keys: string[] };

  before(async () => {
    vault = await startVault();
    init = await initAndUnseal(vault, 5, 3);
    // init.json as vault-init writes it (mode 0600).
    const dir = tempDir('root-token-init');
    initFile = path.join(dir, 'init.json');
    fs.writeFileSync(
      initFile,
      JSON.stringify({
        keys_base64: init.keys,
        root_token: init.rootToken,
        shares: 5,
        threshold: 3,
        initialized_at: new Date().toISOString(),
      }),
      { mode: 0o600 },
    );
  });
  after(async () => {
    await vault?.stop();
  });

  test("the decoding is Vault's: base64 (no padding) of token XOR otp", () => {
    const token = 'hvs.ABCDEFGHIJKLMNOPQRSTUVWX';
    const otp = 'abcdefghijklmnopqrstuvwxyz01';
    assert.equal(token.length, otp.length);
    const encoded = Buffer.from([...Buffer.from(token)].map((b, i) => b ^ otp.charCodeAt(i)))
      .toString('base64')
      .replace(/=+$/, '');
    assert.equal(decodeRootToken(encoded, otp), token);
    assert.throws(() => decodeRootToken(encoded, otp.slice(1)), /must be equal/);
  });

  test('with the root token revoked, the script prints one new root token that works', async () => {
    await new VaultClient({ addr: vault.addr, token: init.rootToken }).write('auth/token/revoke-self', {});
    assert.equal((await lookupToken(vault.addr, init.rootToken)).status, 403, 'the old root token is refused');

    const out = rootTokenScript({ ROOT_TOKEN_INIT_FILE: initFile, VAULT_ADDR: vault.addr });
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, 'stdout is the token and nothing else');
    const token = lines[0]!;
    assert.match(token, /^hvs\.[A-Za-z0-9_-]{20,}$/);
    assert.notEqual(token, init.rootToken);
    const me = await lookupToken(vault.addr, token);
    assert.equal(me.status, 200);
    assert.deepEqual(me.policies, ['root']);
    // Root can do what only root can: e.g. write a policy.
    await new VaultClient({ addr: vault.addr, token }).writePolicy(
      'root-token-test',
      'path "x" { capabilities = ["read"] }',
    );
    // stderr explains, never leaks.
    for (const s of [token, init.rootToken, ...init.keys])
      assert.ok(!out.stderr.includes(s), 'stderr holds no key or token');
    assert.match(out.stderr, /revoke/);
    // No attempt is left behind.
    assert.equal(await generateRootStarted(vault.addr), false);
  });

  test('an unfinished attempt left by someone else is cancelled, and init.json on stdin works too', async () => {
    assert.equal((await new VaultClient({ addr: vault.addr }).generateRoot.start()).started, true);
    const res = spawnSync(
      process.execPath,
      [...TSX_NODE_ARGS, path.join(repoRoot(), 'scripts', 'root-token.ts'), '--init-stdin'],
      {
        cwd: repoRoot(),
        encoding: 'utf8',
        timeout: 60_000,
        input: fs.readFileSync(initFile, 'utf8'),
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', VAULT_ADDR: vault.addr },
      },
    );
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stderr, /cancelled it/);
    assert.equal((await lookupToken(vault.addr, res.stdout.trim())).status, 200);
  });

  test('keys of another Vault are refused with a clear message, and the attempt is cancelled', async () => {
    const other = path.join(tempDir('root-token-other'), 'init.json');
    fs.writeFileSync(
      other,
      JSON.stringify({ keys_base64: ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'], root_token: 'x' }),
      { mode: 0o600 },
    );
    const out = rootTokenScript({ ROOT_TOKEN_INIT_FILE: other, VAULT_ADDR: vault.addr });
    assert.equal(out.code, 1);
    assert.equal(out.stdout, '');
    assert.match(out.stderr, /the init material holds 1 unseal key\(s\), this Vault needs 3/);
    assert.equal(await generateRootStarted(vault.addr), false);
  });
});
