// User story: as a developer who runs `make native` while something else (often the compose stack) listens on one
// of its ports, or with a port setting that is not a port, I am told at once which setting and why, and nothing
// is left half started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { freePort, repoRoot, tempDir, TSX_NODE_ARGS } from '@aurora/process';

/** `make native` (scripts/native.ts up) with `env` on top of this process's environment. */
function nativeUp(env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [...TSX_NODE_ARGS, path.join(repoRoot(), 'scripts', 'native.ts'), 'up'], {
    cwd: repoRoot(),
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
}

test('make native with a taken port: the port and its setting are named, nothing is started', async () => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const taken = (holder.address() as net.AddressInfo).port;
  const native = path.join(tempDir('native-taken-port'), 'native');
  try {
    const env = {
      NATIVE_DIR: native,
      NATIVE_VAULT_PORT: String(await freePort()),
      NATIVE_PG_PORT: String(await freePort()),
      // vault-init's health port: taken, another vault-init would have answered this stack's health checks.
      NATIVE_VAULT_INIT_HEALTH_PORT: String(taken),
      APP_PORT: String(await freePort()),
      APP_METRICS_PORT: '0',
    };
    const r = nativeUp(env);
    assert.notEqual(r.status, 0, 'native.ts up succeeded with a taken port');
    const said = r.stdout + r.stderr;
    assert.match(said, new RegExp(`port ${taken} \\(vault-init, NATIVE_VAULT_INIT_HEALTH_PORT\\) is taken`));
    assert.match(said, /Nothing was started/);
    const run = path.join(native, 'run');
    assert.deepEqual(fs.existsSync(run) ? fs.readdirSync(run) : [], [], 'a service was started');
  } finally {
    holder.close();
  }
});

test('make native with two settings on one port: both are named, nothing is started', async () => {
  const native = path.join(tempDir('native-same-port'), 'native');
  const port = await freePort();
  const r = nativeUp({
    NATIVE_DIR: native,
    NATIVE_VAULT_PORT: String(port),
    NATIVE_PG_PORT: String(await freePort()),
    NATIVE_VAULT_INIT_HEALTH_PORT: String(await freePort()),
    APP_PORT: String(port),
    APP_METRICS_PORT: '0',
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stdout + r.stderr, new RegExp(`NATIVE_VAULT_PORT and APP_PORT are both ${port}`));
  const run = path.join(native, 'run');
  assert.deepEqual(fs.existsSync(run) ? fs.readdirSync(run) : [], [], 'a service was started');
});

test('make native with a port that is not one: the setting and its value are named, nothing is started', async () => {
  const native = path.join(tempDir('native-bad-port'), 'native');
  const r = nativeUp({
    NATIVE_DIR: native,
    NATIVE_VAULT_PORT: String(await freePort()),
    NATIVE_PG_PORT: String(await freePort()),
    NATIVE_VAULT_INIT_HEALTH_PORT: String(await freePort()),
    APP_PORT: 'abc',
    APP_METRICS_PORT: '70000',
  });
  assert.notEqual(r.status, 0);
  const said = r.stdout + r.stderr;
  assert.match(said, /APP_PORT="abc" must be a whole number from 1 to 65535/);
  assert.match(said, /APP_METRICS_PORT="70000" must be a whole number from 0 to 65535/);
  assert.match(said, /Nothing was started/);
  const run = path.join(native, 'run');
  assert.deepEqual(fs.existsSync(run) ? fs.readdirSync(run) : [], [], 'a service was started');
});
