// User story: as a developer whose `make native` cannot get a service going (here vault-init refuses a setting in my
// environment), I read that service's own last words as soon as it has stopped: not, a minute later, that it "did
// not come up", with the reason left in a log file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { freePort, repoRoot, tempDir, TSX_NODE_ARGS } from '@aurora/process';

const nativeTs = path.join(repoRoot(), 'scripts', 'native.ts');

test('make native with a setting vault-init refuses: vault-init’s own message, at once', async () => {
  const dir = tempDir('native-service-stops');
  fs.chmodSync(dir, 0o755); // the postgres user (root runs the cluster as postgres) must reach .native/postgres
  const native = path.join(dir, 'native');
  const env = {
    ...process.env,
    NATIVE_DIR: native,
    NATIVE_VAULT_PORT: String(await freePort()),
    NATIVE_PG_PORT: String(await freePort()),
    NATIVE_VAULT_INIT_HEALTH_PORT: String(await freePort()),
    APP_PORT: String(await freePort()),
    APP_METRICS_PORT: '0',
    VAULT_SECRET_THRESHOLD: '0',
  };
  const runNative = (cmd: string) =>
    spawnSync(process.execPath, [...TSX_NODE_ARGS, nativeTs, cmd], {
      cwd: repoRoot(),
      encoding: 'utf8',
      timeout: 240_000,
      env,
    });
  try {
    const r = runNative('up');
    const said = r.stdout + r.stderr;
    assert.notEqual(r.status, 0, `make native succeeded with VAULT_SECRET_THRESHOLD=0:\n${said}`);
    assert.match(said, /vault-init exited; see .*vault-init\.log/, said);
    assert.match(said, /VAULT_SECRET_THRESHOLD/, 'vault-init’s own words name the setting');
    assert.doesNotMatch(said, /did not come up within/, 'make native waited out its timeout');
    assert.match(said, /still running: vault, postgres\. .*make native-down to stop them/, 'says what it left running');
  } finally {
    const c = runNative('clean');
    assert.equal(c.status, 0, c.stdout + c.stderr);
  }
});
