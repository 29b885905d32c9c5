// User story (a loaded machine): Vault answers sys/init and the key that completes the unseal only once the work
// is done, and holds its state lock meanwhile; on a busy laptop or CI box that takes longer than the few seconds a
// client allows a plain read. vault-init waits for that answer, at first start and when it unseals a restarted
// Vault, instead of giving up with "Vault did not answer" and exiting (seen after a Raft restore on a busy
// machine: a follower's unseal answered after more than 10 s and make restore failed).
//
// The slowness is made certain: a fault proxy between vault-init and a real Vault holds the answer to every
// sys/init and sys/unseal call for longer than vault-init's per-request timeout (10 s). Vault itself is untouched.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { VaultClient } from '@aurora/common';
import { VaultInitProcess, startVault, vaultInitDirs, vaultInitEnv, waitFor, type VaultServer } from '@aurora/process';
import { FaultProxy } from '../support/fault-proxy.js';
import { fieldFault } from './field-fault.js';

/** Longer than the 10 s vault-init allows a call Vault answers from memory. */
const SLOW_ANSWER_MS = 12_000;
const SLOW_CALLS = /^(PUT|POST) \/v1\/sys\/(init|unseal) /;

const { test } = fieldFault('vault-init-waits-out-slow-unseal', {
  fault: 'vault-init gave up on a Vault that was still unsealing',
  outcome: "vault-init waits for Vault's answer to init and unseal at first start and after a restart",
});

describe('vault-init waits for a Vault that takes long to initialize and unseal', () => {
  let vault: VaultServer;
  let proxy: FaultProxy;
  let proc: VaultInitProcess | undefined;
  let direct: VaultClient;

  before(async () => {
    vault = await startVault();
    proxy = await FaultProxy.start('127.0.0.1', vault.port);
    direct = new VaultClient({ addr: vault.addr });
  });
  after(async () => {
    await proc?.stop();
    await proxy?.close();
    await vault?.stop();
  });

  test('first start: init and unseal answer after 12 s; vault-init waits and goes on to watch', async () => {
    proxy.slowAnswers(SLOW_CALLS, SLOW_ANSWER_MS);
    const env = await vaultInitEnv({ addr: proxy.url }, vaultInitDirs(), {
      VAULT_SECRET_SHARES: '1',
      VAULT_SECRET_THRESHOLD: '1',
    });
    proc = VaultInitProcess.start(env);
    await proc.waitForOutput(/watching the seal status/, 180_000);
    assert.ok(proxy.slowed >= 2, `sys/init and sys/unseal were both slowed (${proxy.slowed} slowed)`);
    assert.equal((await direct.sealStatus()).sealed, false);
    assert.doesNotMatch(proc.output(), /did not answer/);
  });

  test('Vault restarts sealed: the slow unseal is waited for too, and vault-init keeps running', async () => {
    const before = proxy.slowed;
    await vault.restart();
    await waitFor(
      'vault-init to unseal the restarted Vault through the slow proxy',
      async () => ((await direct.sealStatus()).sealed ? undefined : true),
      120_000,
      100,
    );
    assert.ok(proxy.slowed > before, 'the unseal after the restart was slowed');
    assert.equal(proc!.child.exitCode, null, `vault-init still runs:\n${proc!.output().slice(-3000)}`);
    assert.doesNotMatch(proc!.output(), /did not answer/);
  });
});
