// User story (a loaded machine): some of Vault's answers come only once Vault has done the work: sys/init and
// the key that completes an unseal (Vault holds its state lock meanwhile), and a database user from the database
// secrets engine (Vault runs the role's statements on PostgreSQL first). On a busy laptop or CI box that takes
// longer than the few seconds a client allows a plain read. vault-init waits for those answers, at first start and
// when it unseals a restarted Vault, and the app waits for its leased database users, instead of giving up with
// "Vault did not answer" (seen after a Raft restore on a busy machine: a follower's unseal answered after more
// than 10 s, vault-init exited and make restore failed).
//
// The slowness is made certain: a fault proxy between the client and a real Vault holds the answers to those
// calls for longer than the client's per-request timeout (vault-init: 10 s, the app: VAULT_TIMEOUT_MS, 3 s).
// Vault itself is untouched.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { VaultClient } from '@aurora/common';
import {
  VaultInitProcess,
  startVault,
  vaultInitDirs,
  vaultInitEnv,
  waitFor,
  type AppProcess,
  type VaultServer,
} from '@aurora/process';
import { FaultProxy } from '../support/fault-proxy.js';
import { databaseScene, startLeasedApp, type DatabaseScene } from '../support/database-scene.js';
import { runOnceOk } from '../support/vault-init-runs.js';
import { fieldFault } from './field-fault.js';

/** Longer than the 10 s vault-init allows a call Vault answers from memory. */
const SLOW_ANSWER_MS = 12_000;
const SLOW_CALLS = /^(PUT|POST) \/v1\/sys\/(init|unseal) /;
/** What vault-init reports when it gives up waiting for one of those answers. */
const GAVE_UP = /did not answer sys\/(init|unseal) in time/;

const { test } = fieldFault('slow-vault-work-waited-for', {
  fault: 'Clients that gave up on a Vault still at work (unsealing, creating a database user)',
  outcome:
    'vault-init waits for init and unseal at first start and after a restart, the app for its leased database ' +
    'users, when Vault answers after more than their request timeouts',
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
    assert.doesNotMatch(proc.output(), GAVE_UP);
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
    // While Vault restarts it refuses connections, and vault-init says so; what must not happen is giving up on
    // an unseal Vault is still working on.
    assert.doesNotMatch(proc!.output(), GAVE_UP);
  });
});

describe('the app waits for Vault to create its leased database users', () => {
  let scene: DatabaseScene | undefined;
  let proxy: FaultProxy | undefined;
  let app: AppProcess | undefined;

  after(async () => {
    await app?.stop();
    await proxy?.close();
    await scene?.vault.stop();
    await scene?.postgres.stop();
  });

  test('database/creds answers after 4.5 s (VAULT_TIMEOUT_MS is 3 s): the app starts and writes', async () => {
    scene = await databaseScene();
    await runOnceOk(scene.env, [], { timeoutMs: 120_000 });
    proxy = await FaultProxy.start('127.0.0.1', scene.vault.port);
    proxy.slowAnswers(/^GET \/v1\/database\/creds\//, 4500);
    let header: string;
    ({ app, header } = await startLeasedApp(scene, 'slow-creds-app', {
      VAULT_ADDR: proxy.url,
      VAULT_TIMEOUT_MS: '3000',
    }));
    // Its migrations user and its own user, both slowed.
    assert.ok(proxy.slowed >= 2, `both leases were slowed (${proxy.slowed} slowed)`);
    const put = await fetch(`${app.url}/users/alice/credentials/github`, {
      method: 'PUT',
      headers: { authorization: header, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { token: 'slow-vault-canary' } }),
    });
    assert.equal(put.status, 201, await put.text());
  });
});
