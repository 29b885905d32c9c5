// User story: vault-init starts before Vault answers (compose ordering, a slow disk). It waits with a
// bounded backoff, says every few seconds that it is still waiting, and carries on as soon as Vault
// answers; if Vault never answers it stops with exit 3 and a message naming the address.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  VaultServer,
  freePort,
  VaultInitProcess,
  runVaultInitOnce,
  vaultInitDirs,
  vaultInitEnv,
} from '@aurora/process';

describe('waiting for Vault', () => {
  test('never answers: exit 3 naming the address, after progress lines', async () => {
    const port = await freePort();
    // A free port where nothing listens: no server at all, the case this test is about.
    const nothingListening = { addr: `http://127.0.0.1:${port}` };
    const env = await vaultInitEnv(nothingListening, vaultInitDirs(), { VAULT_WAIT_TIMEOUT_MS: '6000' });
    const t0 = Date.now();
    const run = await runVaultInitOnce(env);
    assert.equal(run.code, 3, run.output);
    assert.ok(Date.now() - t0 < 15_000);
    assert.match(run.output, new RegExp(`"message":"waiting for Vault at http://127\\.0\\.0\\.1:${port}"`));
    assert.match(run.output, new RegExp(`"message":"still waiting for Vault at http://127\\.0\\.0\\.1:${port}"`));
    assert.match(
      run.output,
      new RegExp(`Vault at http://127\\.0\\.0\\.1:${port} did not answer within 6 s \\(last error: ECONNREFUSED\\)`),
    );
  });

  test('answers late: vault-init carries on and finishes', async () => {
    const port = await freePort();
    const dirs = vaultInitDirs();
    // The real Vault starts on this port 1.5 s after vault-init does.
    const env = await vaultInitEnv({ addr: `http://127.0.0.1:${port}` }, dirs, {
      VAULT_SECRET_SHARES: '1',
      VAULT_SECRET_THRESHOLD: '1',
    });
    const proc = VaultInitProcess.start(env, ['--once']);
    await new Promise((r) => setTimeout(r, 1500));
    const vault = await VaultServer.start({ port });
    try {
      const exit = await proc.waitExit(30_000);
      assert.equal(exit.code, 0, proc.output());
      assert.match(proc.output(), /"initialized":false/);
    } finally {
      await vault.stop();
    }
  });
});
