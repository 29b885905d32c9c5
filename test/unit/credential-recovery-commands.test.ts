// User story: for a credential Vault no longer serves, the operator is told which of three cases it is and the
// exact `vault` command that gives it back; a version that `delete_version_after` will expire later is live.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KvVersionInfo } from '@aurora/common';
import { secretState } from '@aurora/app/credentials/recovery';

const NOW = Date.parse('2026-11-29T12:00:00Z');
const PAST = '2026-11-29T11:00:00Z';
const FUTURE = '2026-11-29T13:00:00Z';
const v = (deletion_time = '', destroyed = false) => ({ created_time: PAST, deletion_time, destroyed });
const meta = (current: number, versions: KvVersionInfo['versions']): KvVersionInfo => ({
  current_version: current,
  created_time: PAST,
  updated_time: PAST,
  versions,
});
const state = (m: KvVersionInfo | undefined) => secretState(m, 'aurora', 'users/alice/github', NOW);

describe('what is left of a credential in Vault, and the command that gives it back', () => {
  test('a readable current version, also one that expires later (delete_version_after)', () => {
    assert.equal(state(meta(2, { '1': v(), '2': v() })).condition, 'live');
    assert.equal(state(meta(1, { '1': v(FUTURE) })).condition, 'live');
  });

  test('the current version soft-deleted, or expired: undelete it', () => {
    // `vault kv delete` and an expired `delete_version_after` both leave a deletion_time in the past.
    const s = state(meta(2, { '1': v(), '2': v(PAST) }));
    assert.deepEqual(
      [s.condition, s.recoverVersion, s.command],
      ['current-deleted', 2, 'vault kv undelete -versions=2 aurora/users/alice/github'],
    );
  });

  test('the current version destroyed, an older one intact: roll back to the newest intact one', () => {
    const s = state(meta(3, { '1': v(), '2': v(), '3': v('', true) }));
    assert.deepEqual(
      [s.condition, s.recoverVersion, s.command],
      ['current-destroyed', 2, 'vault kv rollback -version=2 aurora/users/alice/github'],
    );
    const d = state(meta(3, { '1': v('', true), '2': v(PAST), '3': v('', true) }));
    assert.equal(
      d.command,
      'vault kv undelete -versions=2 aurora/users/alice/github && vault kv rollback -version=2 aurora/users/alice/github',
    );
  });

  test('nothing left: no metadata, or every version destroyed', () => {
    assert.deepEqual([state(undefined).condition, state(undefined).command], ['gone', undefined]);
    const s = state(meta(2, { '1': v('', true), '2': v(PAST, true) }));
    assert.deepEqual([s.condition, s.command], ['gone', undefined]);
    assert.match(s.detail, /nothing left to restore/);
  });
});
