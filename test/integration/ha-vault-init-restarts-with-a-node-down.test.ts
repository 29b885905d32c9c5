// User story (HA profile, process harness): one Vault node of three is down for good (its host died), and then
// the other two restart (sealed) and so does vault-init. A majority is still there, so I expect the cluster back:
// vault-init unseals the two nodes it reaches, one of them leads, the app serves what it stored before; when the
// third node returns, vault-init unseals it too. A cluster none of whose answering nodes is initialized is
// different: a node it cannot see may hold the keyring, so vault-init waits for every node and initializes none.
//
// Real processes: 3-node Vault 1.21.4 clusters on Raft, vault-init in HA mode, PostgreSQL, the app.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { HaStack } from '../support/ha-stack.js';
import { RaftCluster, VaultInitProcess, vaultInitDirs, vaultInitEnv } from '@aurora/process';

describe('vault-init restarts while one Raft node is down', () => {
  let stack: HaStack | undefined;
  const token = `kept-${crypto.randomBytes(12).toString('hex')}`;

  before(async () => {
    stack = await HaStack.start();
    const put = await stack.request('PUT', '/users/alice/credentials/github', { data: { token } });
    assert.equal(put.status, 201, put.text);
  });
  after(async () => {
    await stack?.stop();
  });

  test('the two nodes it reaches are unsealed and lead; the third is unsealed when it returns', async (t) => {
    const s = stack!;
    const [first, second, third] = [s.cluster.nodes[0]!, s.cluster.nodes[1]!, s.cluster.nodes[2]!];
    await s.stopVaultInit();
    await third.kill();
    await Promise.all([first.kill(), second.kill()]);
    await Promise.all([first.start(), second.start()]);
    for (const n of [first, second]) assert.equal((await n.health()).sealed, true, `${n.id} restarted sealed`);

    await s.startVaultInit();
    const said = s.vaultInit!.output();
    assert.match(said, /going on without the nodes that do not answer/, 'vault-init says it goes on without one');
    assert.ok(said.includes(third.addr), 'and names the node it goes on without');
    const leader = await s.cluster.waitActive([first, second]);
    t.diagnostic(`${leader.id} leads with ${third.id} down`);
    for (const n of [first, second]) assert.equal((await n.health()).sealed, false, `${n.id} unsealed`);

    const r = await s.request('POST', '/users/alice/credentials/github/resolve');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual((r.json as { data: unknown }).data, { token });

    await third.start();
    await s.allUnsealed();
  });
});

describe('vault-init on a new cluster with one node down', () => {
  let cluster: RaftCluster | undefined;
  after(async () => {
    await cluster?.stop();
  });

  test('initializes nothing: waits for every node, then says which one did not answer', async () => {
    cluster = await RaftCluster.start(3);
    const missing = cluster.nodes[2]!;
    await missing.kill();
    const env = await vaultInitEnv(cluster.nodes[0]!, vaultInitDirs(), {
      VAULT_HA_ADDRS: cluster.nodes.map((n) => n.addr).join(','),
      VAULT_WAIT_TIMEOUT_MS: '5000',
    });
    const proc = VaultInitProcess.start(env);
    const exit = await proc.waitExit(60_000);
    assert.equal(exit.code, 3, proc.output());
    assert.match(proc.output(), new RegExp(`Vault at ${missing.addr.replace(/[.:/]/g, '\\$&')} did not answer`));
    for (const n of cluster.nodes.slice(0, 2)) {
      assert.equal((await n.health()).initialized, false, `${n.id} was initialized beside a node that was down`);
    }
  });
});
