// User story: Vault has just been initialized and vault-init cannot save its keys (a full disk, a volume mounted
// read-only, an API server restarting). Vault's answer was their only copy, so vault-init does not give up: it
// holds them in memory, says on every attempt what failed and that stopping it now loses them, and saves them as
// soon as the cause is fixed, then carries on to an unsealed, configured Vault; its health says what it waits for
// meanwhile. Stopped, it makes one last attempt: saved, it exits 0; not, it says they are lost (exit 6).
// The save fails for real: a directory stands where the atomic write puts its temp file (init.json.tmp).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient } from '@aurora/common';
import { VaultInitProcess, waitFor, type VaultInitDirs, type VaultServer } from '@aurora/process';
import { leakedLines, secretsOnDisk } from '../support/leaks.js';
import { vaultInitScene } from '../support/vault-init-scene.js';

const SETTINGS = { VAULT_SECRET_SHARES: '1', VAULT_SECRET_THRESHOLD: '1' };
const ATTEMPT = (n: number) =>
  new RegExp(`keys could not be saved to \\S+init\\.json \\(attempt ${n}\\): EISDIR.*holds them in memory only`);

interface Held {
  vault: VaultServer;
  dirs: VaultInitDirs;
  env: Record<string, string>;
  proc: VaultInitProcess;
  /** What makes the save fail; remove it and the next attempt succeeds. */
  blocker: string;
}

/**
 * A fresh Vault and vault-init started with `args` on an init directory where the save fails; `story` goes on from
 * vault-init's second failed attempt. Both are stopped after it.
 */
async function whileHeld(args: string[], story: (held: Held) => Promise<void>): Promise<void> {
  const { vault, dirs, env } = await vaultInitScene(SETTINGS);
  const blocker = path.join(dirs.initDir, 'init.json.tmp');
  fs.mkdirSync(blocker, { recursive: true });
  const proc = VaultInitProcess.start(env, args);
  try {
    await proc.waitForOutput(ATTEMPT(2), 60_000);
    await story({ vault, dirs, env, proc, blocker });
  } finally {
    await proc.kill();
    await vault.stop();
  }
}

describe('new keys that cannot be saved yet', () => {
  test('are held, health says why, and once the cause is fixed they are saved, Vault unsealed, and init.json unseals it', async () => {
    // Watch mode: it serves health, and unseals Vault again after a restart.
    await whileHeld([], async ({ vault, dirs, env, proc, blocker }) => {
      assert.equal((await new VaultClient({ addr: vault.addr }).health()).initialized, true);
      assert.ok(!fs.existsSync(path.join(dirs.initDir, 'init.json')));
      const health = await fetch(`http://127.0.0.1:${env.VAULT_INIT_HEALTH_PORT}/health`);
      assert.equal(health.status, 503);
      const body = (await health.json()) as { waitingFor?: string; keysNotSaved?: { attempt: number; reason: string } };
      assert.match(
        body.waitingFor ?? '',
        /^the new unseal keys to be saved \(attempt \d+: EISDIR.*\); stopping vault-init now loses them$/,
      );
      // What make native-down reads before it stops vault-init.
      assert.ok((body.keysNotSaved?.attempt ?? 0) >= 2, JSON.stringify(body));
      assert.match(body.keysNotSaved?.reason ?? '', /^EISDIR/);

      fs.rmdirSync(blocker);
      await proc.waitForOutput(/"message":"init material saved after all"/, 60_000);
      assert.match(proc.output(), /"attempts":[3-9]/);
      const client = new VaultClient({ addr: vault.addr });
      await proc.waitForOutput(/watching the seal status/, 120_000);
      assert.equal((await client.sealStatus()).sealed, false);
      const saved = JSON.parse(fs.readFileSync(path.join(dirs.initDir, 'init.json'), 'utf8')) as { keys: string[] };
      assert.equal(saved.keys.length, 1);
      // The saved keys are the real ones: a restarted Vault comes back sealed and vault-init unseals it with them.
      await vault.restart();
      await waitFor('vault-init to unseal the restarted Vault', async () =>
        (await client.sealStatus().catch(() => ({ sealed: true }))).sealed ? undefined : true,
      );
      assert.deepEqual(leakedLines(proc.output(), secretsOnDisk(dirs)), []);
    });
  });

  test('a stop while they cannot be saved: one last attempt, then exit 6 saying they are lost', async () => {
    await whileHeld(['--once'], async ({ proc }) => {
      proc.child.kill('SIGTERM');
      const exit = await proc.waitExit(60_000);
      const out = proc.output();
      assert.equal(exit.code, 6, out.slice(-3000));
      assert.match(out, /letting critical work finish first/);
      assert.match(out, /Vault was just initialized but its keys could not be saved to .*cannot be unsealed again/);
      assert.doesNotMatch(out, /init material saved/);
      assert.deepEqual(leakedLines(out, []), []);
    });
  });

  test('a stop right after the cause is fixed: the last attempt saves them, exit 0', async () => {
    await whileHeld(['--once'], async ({ dirs, proc, blocker }) => {
      fs.rmdirSync(blocker);
      proc.child.kill('SIGTERM');
      const exit = await proc.waitExit(60_000);
      const out = proc.output();
      assert.equal(exit.code, 0, out.slice(-3000));
      assert.match(out, /"message":"init material saved after all"/);
      assert.ok(fs.existsSync(path.join(dirs.initDir, 'init.json')), 'the keys are on disk');
      assert.deepEqual(leakedLines(out, secretsOnDisk(dirs)), []);
    });
  });
});
