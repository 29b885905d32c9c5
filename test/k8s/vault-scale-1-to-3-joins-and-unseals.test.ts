/**
 * Scaling Vault from one pod to three with `helm upgrade --set vault.replicas=3`: the new pods join the Raft
 * cluster and are unsealed by vault-init, with no hand work; the secrets written before are still there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@aurora/process';
import { FULLNAME, MIN, helm, isReady, pods, raftPeers, vault, votersReady } from './cluster.js';

test('vault.replicas 1 → 3: the new pods join the Raft cluster and are unsealed', { timeout: 6 * MIN }, async () => {
  assert.equal(
    (await pods('vault')).length,
    1,
    'this story starts from one Vault pod (scripts/k8s/test.sh installs so)',
  );
  const before = await vault(['kv', 'get', '-field=client-secret', 'secret/aurora/admin']);
  assert.equal(before.status, 0, before.stderr);

  const up = await helm([
    'upgrade',
    FULLNAME,
    process.env.K8S_CHART ?? 'deploy/helm/aurora-secrets',
    '--reuse-values',
    '--set',
    'vault.replicas=3',
  ]);
  assert.equal(up.status, 0, `helm upgrade: ${up.stderr}`);

  // Ready = unsealed (active or standby): the readiness probe tells sealed from standby.
  await waitFor(
    'three Ready (unsealed) Vault pods',
    async () => {
      const v = await pods('vault');
      return (v.length === 3 && v.every(isReady)) || undefined;
    },
    4 * MIN,
    500,
  );
  // Joined = voters: until autopilot promotes them, losing the leader would leave no quorum.
  await votersReady(3);
  assert.deepEqual(
    (await raftPeers()).map((s) => s.node_id).sort(),
    [0, 1, 2].map((i) => `${FULLNAME}-vault-${i}`),
    'every pod is a Raft peer',
  );
  const after = await vault(['kv', 'get', '-field=client-secret', 'secret/aurora/admin']);
  assert.equal(after.stdout, before.stdout, 'the data written before the scale-up is there');
});
