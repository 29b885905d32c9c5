// User story (HA profile, Raft storage): as an operator I restore a backup into a brand-new cluster (other unseal
// keys), and make restore goes on to init.json, the database and the start of vault-init and the app only once
// the snapshot is applied on EVERY node. After `vault operator raft snapshot restore -force` the nodes do not seal
// together: the followers seal first, the active node seconds later. A sealed answer from the node make restore
// talks to (a standby) is not "applied": until the active node seals it still serves the old cluster with the old
// keyring, and a vault-init started then sees an unsealed cluster that is not the restored one (on a busy machine
// the app then waited in vain for its readiness).
//
// The window is made certain instead of likely: the moment both followers are sealed, the active node is paused
// (SIGSTOP) before it seals, and held until make restore either moves on (the fault) or has asked every node and
// seen that the active node has not sealed (the fix); then it continues and seals.
//
// Real processes: two 3-node Vault 1.21.4 clusters on Raft, vault-init in HA mode, PostgreSQL, the app.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { HaStack } from '../support/ha-stack.js';
import { tempDir, waitFor, type RaftNode } from '@aurora/process';
import { backup, restore } from '../../scripts/ops/backup-restore.js';
import type { RaftNodeSeal } from '../../scripts/ops/stack-target.js';
import { fieldFault } from '../faults/field-fault.js';

const { test } = fieldFault('restore-raft-waits-for-every-node', {
  fault: 'A restore that raced the nodes on a loaded machine',
  outcome:
    "make restore of another cluster's Raft snapshot waits until every node has sealed and unsealed, then the app serves",
});

describe('make restore of another cluster’s Raft snapshot waits until every node has sealed', () => {
  let a: HaStack | undefined;
  let b: HaStack | undefined;
  let archive = '';
  const token = `restored-${crypto.randomBytes(12).toString('hex')}`;

  before(async () => {
    a = await HaStack.start();
    const put = await a.request('PUT', '/users/alice/credentials/github', { data: { token } });
    assert.equal(put.status, 201);
    archive = (await backup(a.target(), { outDir: tempDir('race-backups') })).file;
    await a.app.stop();
    await a.stopVaultInit();
    await a.cluster.stop();
    b = await HaStack.start({ postgres: a.postgres });
  });
  after(async () => {
    for (const n of b?.cluster.nodes ?? []) n.resume();
    await b?.stop();
    await a?.stop();
  });

  test('the active node seals last; make restore moves on only after it, and the restored app serves', async (t) => {
    const stack = b!;
    const leader = await stack.cluster.waitActive();
    const followers = stack.cluster.nodes.filter((n) => n !== leader);
    const target = stack.target('ha-new');
    const logs: string[] = [];

    // What make restore asks of the nodes, and what every node answered the moment it moved on to init.json.
    let pausedAt = 0;
    let askedAllWhilePaused = false;
    let movedOn = false;
    let sealsWhenMovedOn: Array<{ node: string; sealed: boolean | undefined }> = [];
    const ask = target.raftNodeSealStatuses.bind(target);
    target.raftNodeSealStatuses = async (): Promise<RaftNodeSeal[]> => {
      const started = Date.now();
      const seals = await ask();
      if (pausedAt && started >= pausedAt) askedAllWhilePaused = true;
      return seals;
    };
    const putInit = target.putInit.bind(target);
    target.putInit = async (file: string) => {
      movedOn = true;
      sealsWhenMovedOn = await Promise.all(
        stack.cluster.nodes.map(async (n: RaftNode) => ({
          node: n === leader ? `${n.id} (active)` : n.id,
          sealed: (await n.health().catch(() => undefined))?.sealed,
        })),
      );
      return putInit(file);
    };

    // Pause the active node between the followers' seal and its own; resume once make restore has decided.
    const hold = (async () => {
      await waitFor(
        'both followers sealed by the -force restore',
        async () => {
          const hs = await Promise.all(followers.map((n) => n.health().catch(() => undefined)));
          return hs.every((h) => h?.sealed) ? true : undefined;
        },
        180_000,
        20,
      );
      const leaderBefore = await leader.health().catch(() => undefined);
      leader.pause();
      pausedAt = Date.now();
      t.diagnostic(`followers sealed; active node ${leader.id} paused while ${JSON.stringify(leaderBefore)}`);
      try {
        await waitFor(
          'make restore to move on or to ask every node',
          () => (movedOn || askedAllWhilePaused ? true : undefined),
          180_000,
        );
      } finally {
        leader.resume();
      }
      return leaderBefore;
    })();

    const restored = restore(target, archive, {
      confirm: true,
      scratchDir: tempDir('race-scratch'),
      log: (m) => logs.push(m),
    });
    const [held, done] = await Promise.allSettled([hold, restored]);
    t.diagnostic(`make restore said:\n${logs.join('\n')}`);
    if (held.status === 'rejected') throw held.reason;
    // While it applies the snapshot the active node may not answer at all (it holds its state lock): not sealed.
    assert.notEqual(held.value?.sealed, true, 'the window was caught: the active node had not sealed when paused');
    assert.ok(movedOn, 'make restore went on to init.json');
    assert.deepEqual(
      sealsWhenMovedOn.filter((s) => s.sealed !== true),
      [],
      'every node had sealed (applied the snapshot) before init.json, the database and vault-init came back',
    );
    assert.ok(askedAllWhilePaused, 'make restore asked every node while the active node had not sealed');
    assert.ok(
      logs.some((l) => new RegExp(`waiting for ${leader.addr.replace(/[.:/]/g, '\\$&')}`).test(l)),
      'make restore said which node it waits for',
    );
    if (done.status === 'rejected') throw done.reason;
    assert.deepEqual(done.value.doctor, {
      dangling: 0,
      orphans: 0,
      damaged: 0,
      remaining: 0,
      recoverable: 0,
      mismatched: 0,
    });
    await stack.allUnsealed();
    const r = await stack.request('POST', '/users/alice/credentials/github/resolve');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual((r.json as { data: unknown }).data, { token });
  });
});
