// User story: vault-init's health on Raft storage says healthy only when autopilot does, with every configured
// node a voter and the failure tolerance Raft gives that many nodes; otherwise it says how many vote and what it
// waits for. The verdict on autopilot's answers (shapes as Vault 1.21 serves sys/storage/raft/autopilot/state).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { judge, wantedFailureTolerance } from '@aurora/vault-init/autopilot';

const server = (id: string, status: string, healthy = true, node_status = 'alive') => ({
  id,
  name: id,
  status,
  healthy,
  node_status,
  last_contact: '1s',
});

describe('Raft readiness from autopilot state', () => {
  test('failure tolerance wanted: ⌊(nodes − 1) / 2⌋', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map(wantedFailureTolerance), [0, 0, 1, 1, 2]);
  });

  test('three voters, healthy, tolerance 1: ready', () => {
    const r = judge(
      {
        healthy: true,
        failure_tolerance: 1,
        voters: ['vault-1', 'vault-2', 'vault-3'],
        servers: {
          'vault-1': server('vault-1', 'leader'),
          'vault-2': server('vault-2', 'voter'),
          'vault-3': server('vault-3', 'voter'),
        },
      },
      3,
    );
    assert.deepEqual(r, { ready: true, voters: 3, nodes: 3, failureTolerance: 1 });
  });

  test('joined but not voting yet (autopilot calls it healthy): not ready, names the non-voters', () => {
    const r = judge(
      {
        healthy: true,
        failure_tolerance: 0,
        voters: ['vault-1'],
        servers: {
          'vault-1': server('vault-1', 'leader'),
          'vault-2': server('vault-2', 'non-voter'),
          'vault-3': server('vault-3', 'non-voter'),
        },
      },
      3,
    );
    assert.equal(r.ready, false);
    assert.equal(r.voters, 1);
    assert.match(r.waitingFor!, /^1 of 3 nodes vote; waiting for vault-2, vault-3 to become voters/);
  });

  test('a voter down: not ready, names it', () => {
    const r = judge(
      {
        healthy: false,
        failure_tolerance: 0,
        voters: ['vault-1', 'vault-2', 'vault-3'],
        servers: {
          'vault-1': server('vault-1', 'voter', false, 'failed'),
          'vault-2': server('vault-2', 'leader'),
          'vault-3': server('vault-3', 'voter'),
        },
      },
      3,
    );
    assert.equal(r.ready, false);
    assert.match(r.waitingFor!, /vault-1 \(failed, last contact 1s\) to be healthy/);
  });

  test('fewer members than configured nodes: not ready', () => {
    const r = judge(
      { healthy: true, failure_tolerance: 0, voters: ['vault-1'], servers: { 'vault-1': server('vault-1', 'leader') } },
      3,
    );
    assert.equal(r.ready, false);
    assert.match(r.waitingFor!, /2 of 3 nodes to join the Raft cluster/);
  });

  test('one node on Raft: one voter, tolerance 0 is ready', () => {
    const r = judge(
      { healthy: true, failure_tolerance: 0, voters: ['n1'], servers: { n1: server('n1', 'leader') } },
      1,
    );
    assert.deepEqual(r, { ready: true, voters: 1, nodes: 1, failureTolerance: 0 });
  });
});
