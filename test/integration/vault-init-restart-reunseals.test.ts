// User story: Vault restarts (or is killed -9) and comes back sealed; vault-init in watch mode unseals it
// again within 2 s, with no one touching anything, and the compose healthcheck follows along.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { VaultClient } from '@aurora/common';
import {
  VaultServer,
  waitFor,
  startVault,
  vaultInitDirs,
  vaultInitEnv,
  vaultInitHealthcheck,
  VaultInitProcess,
  type VaultInitDirs,
  serviceNode,
} from '@aurora/process';
import { waitVaultInitHealth } from '../support/vault-init-runs.js';
import { leakedLines, secretsOnDisk } from '../support/leaks.js';

const REUNSEAL_BOUND_MS = 2000;

async function health(port: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  return { status: res.status, body: await res.json() };
}

function healthcheckExit(port: string): number | null {
  return spawnSync(serviceNode(), [vaultInitHealthcheck()], {
    env: { ...process.env, VAULT_INIT_HEALTH_PORT: port },
    timeout: 10_000,
  }).status;
}

/** Time from "Vault answers again" to "Vault reports unsealed", as a client polling every 20 ms sees it. */
async function timeToUnsealed(client: VaultClient, proc: VaultInitProcess): Promise<number> {
  const t0 = Date.now();
  try {
    await waitFor(
      'Vault to be unsealed by vault-init',
      async () => ((await client.sealStatus()).sealed ? undefined : true),
      10_000,
      20,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\nvault-init output:\n${proc.output().slice(-4000)}`);
  }
  return Date.now() - t0;
}

describe('vault-init watch mode across Vault restarts (5 shares, threshold 3)', () => {
  let vault: VaultServer;
  let dirs: VaultInitDirs;
  let env: Record<string, string>;
  let proc: VaultInitProcess;
  let client: VaultClient;

  before(async () => {
    vault = await startVault();
    dirs = vaultInitDirs();
    env = await vaultInitEnv(vault, dirs);
    proc = VaultInitProcess.start(env);
    client = new VaultClient({ addr: vault.addr });
    await proc.waitForOutput(/watching the seal status/);
  });
  after(async () => {
    await proc?.stop();
    await vault?.stop();
  });

  test('health: 200 {unsealed, configured}; the healthcheck script exits 0', async () => {
    assert.deepEqual(await health(env.VAULT_INIT_HEALTH_PORT!), {
      status: 200,
      body: { unsealed: true, configured: true },
    });
    assert.equal(healthcheckExit(env.VAULT_INIT_HEALTH_PORT!), 0);
  });

  test('Vault restarted on the same data dir: unsealed again within 2 s', async () => {
    await vault.restart();
    const ms = await timeToUnsealed(client, proc);
    console.log(`# re-unseal after restart: ${ms} ms`);
    assert.ok(ms < REUNSEAL_BOUND_MS, `took ${ms} ms`);
    await waitVaultInitHealth(env.VAULT_INIT_HEALTH_PORT!, 200, 10_000);
  });

  test('Vault killed -9 and started again: unsealed again within 2 s, and the health endpoint said 503 meanwhile', async () => {
    await vault.kill();
    // vault-init notices within one interval (1 s) and reports unhealthy.
    await waitVaultInitHealth(env.VAULT_INIT_HEALTH_PORT!, 503, 5000);
    assert.equal(healthcheckExit(env.VAULT_INIT_HEALTH_PORT!), 1);
    await vault.startProcess();
    const ms = await timeToUnsealed(client, proc);
    console.log(`# re-unseal after kill -9: ${ms} ms`);
    assert.ok(ms < REUNSEAL_BOUND_MS, `took ${ms} ms`);
    await waitVaultInitHealth(env.VAULT_INIT_HEALTH_PORT!, 200, 10_000);
  });

  test('five restarts in a row: each one unsealed within 2 s', async () => {
    for (let i = 0; i < 5; i++) {
      if (i % 2) await vault.restart();
      else {
        await vault.kill();
        await vault.startProcess();
      }
      const ms = await timeToUnsealed(client, proc);
      assert.ok(ms < REUNSEAL_BOUND_MS, `restart ${i}: took ${ms} ms`);
    }
  });

  test('the data survived and the app credentials still work', async () => {
    await waitVaultInitHealth(env.VAULT_INIT_HEALTH_PORT!, 200, 10_000);
    const fs = await import('node:fs');
    const login = await client.approleLogin(
      fs.readFileSync(`${dirs.approleDir}/app/role_id`, 'utf8'),
      fs.readFileSync(`${dirs.approleDir}/app/secret_id`, 'utf8'),
    );
    assert.deepEqual(login.policies, ['aurora-app', 'default']);
  });

  test('SIGTERM (docker stop) exits 0; the healthcheck then fails; the output never leaked a key or token', async () => {
    const exit = await proc.stop();
    assert.equal(exit.code, 0, proc.output());
    assert.equal(healthcheckExit(env.VAULT_INIT_HEALTH_PORT!), 1);
    assert.deepEqual(leakedLines(proc.output(), secretsOnDisk(dirs)), []);
    // Logged when the problem started and when it ended, not once per tick.
    const errors = proc
      .output()
      .split('\n')
      .filter((l) => l.includes('"level":"error"'));
    assert.ok(errors.length <= 20, `${errors.length} error lines`);
  });
});
