// User story: as a developer whose first `make native` initializes Vault where vault-init cannot save the new keys
// (here a directory stands where the atomic write puts its temp file), I am told so while it waits, with the reason
// and what to do; `make native-down` refuses to stop what holds the only copy of the keys; the stack's own commands
// meanwhile reach this stack, not defaults (make doctor and a shell that sources .native/env get its ports before
// vault-init is done); and once I fix the cause, `make native` again gives me a running stack with the keys saved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { repoRoot, TSX_NODE_ARGS, waitFor, WaitFailed } from '@aurora/process';
import { NATIVE_TS, nativeScene } from '../support/native-scene.js';

test('make native while the new keys cannot be saved: said, kept, reachable, and running once fixed', async () => {
  const { native, ports, env, run: runNative } = await nativeScene('native-keys-held');
  const blocker = path.join(native, 'init', 'init.json.tmp');
  fs.mkdirSync(blocker, { recursive: true });

  let said = '';
  const up = spawn(process.execPath, [...TSX_NODE_ARGS, NATIVE_TS, 'up'], { cwd: repoRoot(), env });
  up.stdout.on('data', (d: Buffer) => (said += d.toString()));
  up.stderr.on('data', (d: Buffer) => (said += d.toString()));
  const upDone = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
  try {
    const held = await waitFor(
      'vault-init to hold keys it cannot save',
      async () => {
        const res = await fetch(`http://127.0.0.1:${ports.vaultInitHealth}/health`, {
          signal: AbortSignal.timeout(5_000),
        }).catch(() => undefined);
        const body = res ? ((await res.json()) as { keysNotSaved?: { reason: string } }) : undefined;
        // make native gave up before vault-init held anything (a port taken meanwhile, a build error): say why now.
        if (!body?.keysNotSaved && up.exitCode !== null) throw new WaitFailed(`make native exited first:\n${said}`);
        return body?.keysNotSaved;
      },
      180_000,
      250,
    );
    assert.match(held.reason, /EISDIR/);

    // A shell, make status and make doctor find this stack's addresses already.
    const envFile = fs.readFileSync(path.join(native, 'env'), 'utf8');
    assert.match(envFile, new RegExp(`PGPORT=${ports.pg}\\b`));
    assert.match(envFile, new RegExp(`VAULT_ADDR=http://127\\.0\\.0\\.1:${ports.vault}\\n`));
    const doctor = spawnSync(path.join(repoRoot(), 'scripts', 'doctor.sh'), ['--json'], {
      cwd: repoRoot(),
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...env, AURORA_STACK: 'native' },
    });
    assert.notEqual(doctor.status, 0, 'doctor cannot check a stack that is not configured yet');
    assert.doesNotMatch(doctor.stdout + doctor.stderr, /:5432\b|:8200\b/, 'doctor went to the default addresses');

    // The keys exist only in vault-init's memory: no stop.
    const down = runNative('down');
    assert.notEqual(down.status, 0, 'make native-down stopped vault-init while it held the only copy of the keys');
    assert.match(down.stdout + down.stderr, /cannot save the new unseal keys: .*EISDIR.*make native-down refuses/s);

    // make native waits for vault-init as long as it would for any start, saying what it waits for, then says
    // what to do; vault-init goes on holding the keys.
    assert.notEqual(await upDone, 0, `make native succeeded while the keys could not be saved:\n${said}`);
    assert.match(said, /the new unseal keys to be saved/, 'the progress lines say what vault-init waits for');
    assert.match(said, /cannot save the new unseal keys: .*EISDIR.*fix that while it runs/s);

    // Fixed while it runs, as the message says: make native again carries on to a running stack.
    fs.rmdirSync(blocker);
    const again = runNative('up');
    assert.equal(again.status, 0, `make native after the fix:\n${(again.stdout + again.stderr).slice(-3000)}`);
    const init = JSON.parse(fs.readFileSync(path.join(native, 'init', 'init.json'), 'utf8')) as { keys_base64: [] };
    assert.ok(init.keys_base64.length > 0, 'init.json holds the keys');
    const stopped = runNative('down');
    assert.equal(stopped.status, 0, stopped.stdout + stopped.stderr);
  } finally {
    if (up.exitCode === null) up.kill('SIGKILL');
    // Never hides the test's own failure; what clean could not stop is killed by its pid file (vault-init's and
    // the app's command lines do not name the run directory, so run-tests.sh's sweep misses them).
    const c = runNative('clean');
    if (c.status !== 0) {
      process.stderr.write(`# make native-clean failed: ${c.stdout}${c.stderr}\n`);
      const run = path.join(native, 'run');
      for (const f of fs.existsSync(run) ? fs.readdirSync(run) : []) {
        const pid = Number(fs.readFileSync(path.join(run, f), 'utf8'));
        if (pid > 0) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    }
  }
});
