// User story (HA profile, process harness): as soon as the three-node stack reports healthy (vault-init's health,
// which compose's healthcheck and `make prod-local-ha` wait for), it survives losing any one node. I kill -9 the
// leader the moment it says healthy: within 10 s a survivor is the new leader and writes through the app succeed
// again, and every write the app acknowledged is still there. "Healthy" means what autopilot says: healthy, all
// three nodes voting, failure tolerance 1 — never a cluster whose joined nodes do not vote yet.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { HaStack } from '../support/ha-stack.js';
import { waitFor } from '@aurora/process';
import { fieldFault } from '../faults/field-fault.js';

const { test } = fieldFault('ha-kill-leader-right-after-healthy', {
  fault: 'An HA cluster reported healthy before it could lose a node',
  outcome:
    'healthy only once autopilot counts every node a voter; kill -9 of the leader right after it: a new leader and writes within 10 s, nothing acknowledged lost',
});

const RECOVERY_BOUND_MS = 10_000;

describe('kill -9 of the leader right after the HA stack reports healthy', () => {
  let stack: HaStack;
  const waited: string[] = [];

  before(async () => {
    // Vault's default stabilization time (10 s, the window of non-voting nodes): the app is ready well
    // within it, so start() returns the moment vault-init turns healthy and the kill follows at once.
    stack = await HaStack.start({
      vaultInitEnv: { VAULT_RAFT_SERVER_STABILIZATION_TIME: '10s' },
      onWaiting: (what) => waited.push(what),
    });
  });
  after(async () => {
    await stack?.stop();
  });

  test('while it was not yet healthy, health said how many nodes vote and what it waited for', () => {
    assert.ok(waited.length > 0, 'vault-init was not healthy at once');
    assert.ok(
      waited.some((w) => /\d of 3 nodes vote; waiting for .*to become voters?/.test(w)),
      `names the voters and what it waits for: ${JSON.stringify(waited)}`,
    );
  });

  test('healthy means: autopilot healthy, three voters, failure tolerance 1', async () => {
    const health = await stack.health();
    assert.equal(health.status, 200);
    assert.deepEqual(health.body.raft, { ready: true, voters: 3, nodes: 3, failureTolerance: 1 });
    const peers = await stack.cluster.peers();
    assert.equal(peers.filter((p) => p.voter).length, 3, `every node votes: ${JSON.stringify(peers)}`);
    const autopilot = await stack.cluster.autopilot();
    assert.equal(autopilot.healthy, true);
    assert.equal(autopilot.failure_tolerance, 1);
  });

  test(`the leader killed -9 at once: a new leader and a successful write through the app within ${RECOVERY_BOUND_MS / 1000} s; nothing acknowledged lost`, async (t) => {
    const leader = await stack.cluster.waitActive();
    assert.notEqual(leader, stack.standby(), "the app's node is a standby (it forwards to the leader)");
    const acknowledged = new Map<string, string>();
    let n = 0;
    const writeOne = async () => {
      n += 1;
      const type = `k${n}`;
      const value = `after-healthy-${n}-${crypto.randomBytes(6).toString('hex')}`;
      const r = await stack.request('PUT', `/users/alice/credentials/${type}`, { data: { key: value } });
      if (r.status === 201) acknowledged.set(type, value);
      return r;
    };
    assert.equal((await writeOne()).status, 201, 'a write before the kill');

    const t0 = Date.now();
    await leader.kill();
    const survivors = stack.cluster.nodes.filter((x) => x !== leader);
    const next = await stack.cluster.waitActive(survivors, 60_000);
    const electedMs = Date.now() - t0;
    const statuses: number[] = [];
    const writtenMs = await waitFor(
      'a 201 write through the app after the kill',
      async () => {
        const r = await writeOne();
        statuses.push(r.status);
        return r.status === 201 ? Date.now() - t0 : undefined;
      },
      60_000,
      100,
    );
    t.diagnostic(
      `${next.id} leader ${electedMs} ms after kill -9 of ${leader.id}; first write through the app ${writtenMs} ms after; ` +
        `answers meanwhile: ${[...new Set(statuses)].join(',')}`,
    );
    assert.ok(electedMs <= RECOVERY_BOUND_MS, `new leader after ${electedMs} ms (bound ${RECOVERY_BOUND_MS} ms)`);
    assert.ok(writtenMs <= RECOVERY_BOUND_MS, `writes again after ${writtenMs} ms (bound ${RECOVERY_BOUND_MS} ms)`);
    for (const s of statuses) assert.ok(s === 201 || s === 503, `only 201 or 503 meanwhile, got ${s}`);

    for (const [type, value] of acknowledged) {
      const r = await stack.request('POST', `/users/alice/credentials/${type}/resolve`);
      assert.equal(r.status, 200, `${type}: ${r.text}`);
      assert.deepEqual((r.json as { data: unknown }).data, { key: value });
    }
  });

  test('with one node down, vault-init is not healthy and says which node it waits for', async () => {
    const h = await waitFor(
      'health 503 naming the lost node',
      async () => {
        const x = await stack.health();
        return x.status === 503 && x.body.waitingFor ? x : undefined;
      },
      30_000,
      200,
    );
    assert.match(h.body.waitingFor!, /to be healthy|unsealed/);
  });
});
