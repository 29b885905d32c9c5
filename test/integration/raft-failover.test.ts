// User story (HA profile, process harness): three Vault nodes on integrated Raft storage. One is initialized,
// the others join it (sys/storage/raft/join) and are unsealed with the same keys; when the active node is
// killed -9, a standby takes over, and no write that Vault acknowledged is lost. The killed node comes back
// sealed; unsealing it (vault-init's job) makes it a standby again.
import { after, before, describe, test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { RaftCluster, type RaftNode, waitFor } from '@aurora/process';

describe('a 3-node Raft cluster survives kill -9 of its active node', () => {
  let cluster: RaftCluster;
  let active: RaftNode;
  const acknowledged = new Map<string, string>();

  /** One write through any running node (standbys forward to the active one); recorded only if acknowledged. */
  const write = async (key: string, value: string): Promise<boolean> => {
    for (const n of cluster.nodes.filter((x) => x.running)) {
      const r = await n
        .api('POST', `aurora/data/ha/${key}`, { data: { value } }, cluster.rootToken)
        .catch(() => undefined);
      if (r && r.status === 200) {
        acknowledged.set(key, value);
        return true;
      }
    }
    return false;
  };

  before(async () => {
    cluster = await RaftCluster.start(3);
  });
  after(async () => {
    await cluster?.stop();
  });

  test('initialize one node, join the other two, unseal all: one active, two voting standbys', async (t) => {
    const [first, second, third] = cluster.nodes as [RaftNode, RaftNode, RaftNode];
    await cluster.initialize(first);
    // Autopilot promotes a joined node to voter once it has been healthy this long (default 10 s).
    const ap = await first.api(
      'POST',
      'sys/storage/raft/autopilot/configuration',
      { server_stabilization_time: '1s', cleanup_dead_servers: false },
      cluster.rootToken,
    );
    assert.equal(ap.status, 204);
    assert.equal(
      (await first.api('POST', 'sys/mounts/aurora', { type: 'kv', options: { version: '2' } }, cluster.rootToken))
        .status,
      204,
    );
    await cluster.join(second, first);
    await cluster.join(third, first);
    const started = Date.now();
    await waitFor(
      'three voters',
      async () => {
        const peers = await cluster.peers();
        return peers.length === 3 && peers.every((p) => p.voter) ? true : undefined;
      },
      60_000,
      250,
    );
    t.diagnostic(`all three nodes voting ${Date.now() - started} ms after the joins`);
    active = await cluster.waitActive();
    assert.equal(active, first);
    for (const n of [second, third]) assert.equal((await n.health()).status, 429, `${n.id} is a standby`);
  });

  test('kill -9 of the active node: a standby takes over, no acknowledged write is lost', async (t) => {
    for (let i = 0; i < 20; i++) assert.ok(await write(`before-${i}`, `v-${i}`));
    // A writer that keeps going through the failover, recording what Vault acknowledged.
    let stop = false;
    let attempted = 0;
    const writer = (async () => {
      while (!stop) {
        attempted++;
        await write(`during-${attempted}`, `d-${attempted}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const killed = active;
    const t0 = Date.now();
    await killed.kill();
    const survivors = cluster.nodes.filter((n) => n !== killed);
    active = await cluster.waitActive(survivors, 60_000);
    const electionMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await writer;
    t.diagnostic(
      `${active.id} took over ${electionMs} ms after kill -9 of ${killed.id}; ${acknowledged.size} writes acknowledged of ${attempted + 20} attempted`,
    );
    assert.notEqual(active, killed);
    assert.ok(await write('after', 'a'), 'the new active node takes writes');
    for (const [key, value] of acknowledged) {
      const r = await active.api<{ data: { data: { value: string } } }>(
        'GET',
        `aurora/data/ha/${key}`,
        undefined,
        cluster.rootToken,
      );
      assert.equal(r.status, 200, `acknowledged write ${key} is readable`);
      assert.equal(r.json.data.data.value, value, `acknowledged write ${key} kept its value`);
    }
  });

  test('the killed node restarts sealed; unsealed with the same keys it is a standby again', async () => {
    const killed = cluster.nodes.find((n) => !n.running)!;
    await killed.start();
    assert.equal((await killed.health()).sealed, true);
    await killed.unseal(cluster.keys);
    await waitFor(
      `${killed.id} to be an unsealed standby`,
      async () => {
        const h = await killed.health().catch(() => undefined);
        return h && !h.sealed && h.standby ? true : undefined;
      },
      60_000,
      100,
    );
    // Reads through the restarted standby are forwarded to the active node (once it has found it: a moment).
    const value = await waitFor(
      `a read through ${killed.id}`,
      async () => {
        const r = await killed.api<{ data: { data: { value: string } } }>(
          'GET',
          'aurora/data/ha/after',
          undefined,
          cluster.rootToken,
        );
        return r.status === 200 ? r.json.data.data.value : undefined;
      },
      30_000,
      200,
    );
    assert.equal(value, 'a');
    assert.equal((await cluster.peers()).length, 3);
  });

  test('online backup on Raft: a snapshot needs no pause, and restoring it brings back exactly that state', async () => {
    active = await cluster.waitActive();
    const snapFile = path.join(cluster.dir, 'online.snap');
    await active.vault(60_000, cluster.rootToken).raft.snapshotSave(snapFile);
    assert.ok(fs.statSync(snapFile).size > 0);
    assert.ok(await write('after-snapshot', 'x'), 'writes went on while the snapshot was taken');
    await active.vault(60_000, cluster.rootToken).raft.snapshotRestore(snapFile);
    const gone = await waitFor(
      'the snapshot state',
      async () => {
        const a = await cluster.waitActive();
        const r = await a
          .api('GET', 'aurora/data/ha/after-snapshot', undefined, cluster.rootToken)
          .catch(() => undefined);
        return r?.status === 404 ? true : undefined;
      },
      30_000,
      200,
    );
    assert.ok(gone);
    const a = await cluster.waitActive();
    const r = await a.api<{ data: { data: { value: string } } }>(
      'GET',
      'aurora/data/ha/after',
      undefined,
      cluster.rootToken,
    );
    assert.equal(r.json.data.data.value, 'a');
  });
});
