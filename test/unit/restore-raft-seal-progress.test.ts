// User story (HA profile): as an operator restoring another cluster's Raft snapshot, make restore moves on only
// once every node answered sealed, and never on an empty list of nodes (none found to ask is not "all sealed").
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { raftSealProgress } from '../../scripts/ops/raft-seal-progress.js';

describe('when a -force Raft restore counts as applied', () => {
  test('no node known: not applied, and the progress line says so', () => {
    assert.deepEqual(raftSealProgress([]), { applied: false, waiting: 'no Raft node is known to ask' });
  });

  test('every node answered sealed: applied', () => {
    const r = raftSealProgress([
      { node: 'vault-1', sealed: true },
      { node: 'vault-2', sealed: true },
      { node: 'vault-3', sealed: true },
    ]);
    assert.equal(r.applied, true);
  });

  test('one node unsealed and one silent: not applied, both named', () => {
    const r = raftSealProgress([
      { node: 'vault-1', sealed: true },
      { node: 'vault-2', sealed: false },
      { node: 'vault-3', sealed: undefined },
    ]);
    assert.deepEqual(r, {
      applied: false,
      waiting: '1 of 3 nodes sealed; waiting for vault-2 (unsealed), vault-3 (no answer)',
    });
  });
});
