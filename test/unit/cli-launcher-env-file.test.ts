// User story: `aurora-secrets run --env-file .env -- cmd` reaches the CLI even on Node 20, which otherwise reads
// --env-file anywhere on its command line (and dies with exit 9 on a missing file) before the CLI runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '@aurora/process';

const bin = path.join(repoRoot(), 'packages', 'cli', 'bin', 'aurora-secrets.js');

test('the launcher hands --env-file to the CLI, whose message and exit code the user gets', () => {
  const out = spawnSync(bin, ['run', '--env-file', '/nonexistent/aurora.env', '--', 'true'], { encoding: 'utf8' });
  assert.equal(out.status, 2, out.stderr);
  assert.match(out.stderr, /aurora-secrets: error: --env-file \/nonexistent\/aurora\.env: no such file/);
  assert.doesNotMatch(out.stderr, /^node:/m);
});

test('no command at all is bad usage: exit 2 with the usage', () => {
  const out = spawnSync(bin, [], { encoding: 'utf8' });
  assert.equal(out.status, 2, out.stderr);
  assert.match(out.stderr, /a command is needed: run, resolve or check/);
});
