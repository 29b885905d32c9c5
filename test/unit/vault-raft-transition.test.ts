// User story: a Raft cluster between leaders answers 500 "leadership lost" for a moment; callers that wait
// through an election tell that apart from a real failure, and only from Vault's own words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VaultForbiddenError, VaultRequestError, isRaftTransition } from '@aurora/common';

test('leadership changes are passing; other 500s, 403s and plain errors are not', () => {
  const said = (status: number, message: string) => new VaultRequestError('auth/token/revoke-self', status, message);
  const revokeDuringElection =
    '1 error occurred:\n\t* failed to revoke token: failed to revoke entry: failed to delete lease entry: leadership lost while committing log\n\n';
  assert.equal(isRaftTransition(said(500, revokeDuringElection)), true);
  assert.equal(isRaftTransition(said(500, 'local node not active but active cluster node not found')), true);
  assert.equal(isRaftTransition(said(500, 'internal error')), false);
  assert.equal(isRaftTransition(said(500, 'invalid ciphertext')), false);
  assert.equal(isRaftTransition(new VaultForbiddenError('auth/token/revoke-self')), false);
  assert.equal(isRaftTransition(new Error('leadership lost')), false);
});
