// User story: I stop vault-init (Ctrl-C, `docker stop`, a rollout) while Vault is slow to answer what must not be
// cut. Stopping twice does not cut it either. A stop waits for the initialization however long Vault takes, and
// ends with the initialization's own error if saving the keys failed; it waits for an audit device switch only
// until its deadline (under docker's 10 s), and the next start finishes the switch.
// Vault's slowness comes from a fault proxy holding its answers (test/support/fault-proxy.ts); the same proxy loses
// sys/init's answer for the one failure a stop cannot prevent, which vault-init must name at once.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient } from '@aurora/common';
import {
  runVaultInitOnce,
  startVault,
  vaultInitDirs,
  vaultInitEnv,
  waitFor,
  VaultInitProcess,
  type VaultServer,
} from '@aurora/process';
import { FaultProxy } from '../support/fault-proxy.js';

const SETTINGS = { VAULT_SECRET_SHARES: '1', VAULT_SECRET_THRESHOLD: '1' };
const SYS_INIT = /^(PUT|POST) \/v1\/sys\/init /;

describe('a stop while Vault is slow to answer critical work', () => {
  let vault: VaultServer;
  let proxy: FaultProxy;
  let proc: VaultInitProcess | undefined;

  before(async () => {
    vault = await startVault();
  });
  afterEach(async () => {
    await proc?.kill();
    proc = undefined;
    await proxy?.close();
    await vault.stop();
    vault = await startVault();
  });
  after(async () => {
    await vault?.stop();
  });

  test('sys/init answers after 12 s, past the stop deadline, and Ctrl-C comes three times: the keys are saved, exit 0', async () => {
    proxy = await FaultProxy.start('127.0.0.1', vault.port);
    proxy.slowAnswers(SYS_INIT, 12_000);
    const dirs = vaultInitDirs();
    const env = await vaultInitEnv({ addr: proxy.url }, dirs, SETTINGS);
    proc = VaultInitProcess.start(env, ['--once']);
    await proc.waitForOutput(/initializing Vault/, 60_000);
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGINT'] as const) {
      proc.child.kill(signal);
      await proc.waitForOutput(
        signal === 'SIGTERM' ? /letting critical work finish first/ : /already stopping/,
        10_000,
      );
    }
    const exit = await proc.waitExit(60_000);
    const out = proc.output();
    assert.equal(exit.code, 0, out.slice(-3000));
    assert.match(out, /init material persisted/);
    assert.ok(fs.existsSync(path.join(dirs.initDir, 'init.json')));
    proxy.slowAnswers(undefined);
    const next = await runVaultInitOnce(env);
    assert.equal(next.code, 0, next.output.slice(-3000));
    assert.equal((await new VaultClient({ addr: vault.addr }).sealStatus()).sealed, false);
  });

  test('the keys cannot be saved while a stop waits: the stop ends with that error (exit 6), not with success', async () => {
    proxy = await FaultProxy.start('127.0.0.1', vault.port);
    proxy.slowAnswers(SYS_INIT, 3_000);
    const dirs = vaultInitDirs();
    // A directory where the temp file goes: the atomic write of init.json fails.
    fs.mkdirSync(path.join(dirs.initDir, 'init.json.tmp'));
    const env = await vaultInitEnv({ addr: proxy.url }, dirs, SETTINGS);
    proc = VaultInitProcess.start(env, ['--once']);
    await proc.waitForOutput(/initializing Vault/, 60_000);
    proc.child.kill('SIGTERM');
    const exit = await proc.waitExit(60_000);
    const out = proc.output();
    assert.equal(exit.code, 6, out.slice(-3000));
    assert.match(out, /Vault was just initialized but its keys could not be saved/);
  });

  test("sys/init's answer is lost (connection reset): vault-init says at once that the keys may be lost (exit 3)", async () => {
    proxy = await FaultProxy.start('127.0.0.1', vault.port);
    proxy.slowAnswers(SYS_INIT, 30_000);
    const dirs = vaultInitDirs();
    const env = await vaultInitEnv({ addr: proxy.url }, dirs, SETTINGS);
    const running = VaultInitProcess.start(env, ['--once']);
    proc = running;
    await running.waitForOutput(/initializing Vault/, 60_000);
    const direct = new VaultClient({ addr: vault.addr });
    await waitFor('Vault to commit the initialization', async () =>
      (await direct.health()).initialized ? true : undefined,
    );
    proxy.setMode('reset');
    const exit = await running.waitExit(60_000);
    const out = running.output();
    assert.equal(exit.code, 3, out.slice(-3000));
    assert.match(
      out,
      /it may have done so without its answer reaching vault-init, and then its unseal keys exist nowhere/,
    );
    assert.match(out, /Two ways out/);
    proxy.setMode('pass');
    proxy.slowAnswers(undefined);
    const next = await runVaultInitOnce(env);
    assert.equal(next.code, 4, next.output.slice(-3000));
    assert.match(next.output, /init\.json is missing/);
  });

  test('an audit switch Vault holds for 20 s in a rotation: the stop ends by its deadline, and the next start finishes it', async () => {
    const { root, env, running } = await rotatingVaultInit();
    proxy.slowAnswers(/^(PUT|POST) \/v1\/sys\/audit\//, 20_000);
    await trafficUntilHeld(root, "the rotation's audit enable to be held");
    const stopped = Date.now();
    running.child.kill('SIGTERM');
    const exit = await running.waitExit(30_000);
    const tookMs = Date.now() - stopped;
    const out = running.output();
    assert.equal(exit.code, 0, out.slice(-3000));
    assert.ok(tookMs < 10_000, `the stop took ${tookMs} ms: docker stop would have killed it at 10 s`);
    assert.match(out, /stopping before critical work finished: the next start finishes it/);
    assert.doesNotMatch(out.slice(out.indexOf('"stopping"')), /"level":"error"/);

    proxy.slowAnswers(undefined);
    const next = await runVaultInitOnce(env);
    assert.equal(next.code, 0, next.output.slice(-3000));
    // However the cut enable ended in Vault, one listed device writes the log.
    const devices = Object.values(await root.auditDevices());
    assert.equal(devices.length, 1, JSON.stringify(devices));
  });

  /** vault-init in watch mode through the proxy, rotating a 3-file ring of 4k files; and a root client. */
  async function rotatingVaultInit(): Promise<{
    root: VaultClient;
    env: Record<string, string>;
    base: string;
    running: VaultInitProcess;
  }> {
    proxy = await FaultProxy.start('127.0.0.1', vault.port);
    const dirs = vaultInitDirs();
    const env = await vaultInitEnv({ addr: proxy.url }, dirs, {
      ...SETTINGS,
      VAULT_AUDIT_KEEP_FILES: '3',
      VAULT_AUDIT_ROTATE_SIZE: '4k',
      VAULT_AUDIT_CHECK_INTERVAL_MS: '100',
    });
    const running = VaultInitProcess.start(env);
    proc = running; // afterEach kills it if a test fails
    await running.waitForOutput(/watching the seal status/, 60_000);
    const init = JSON.parse(fs.readFileSync(path.join(dirs.initDir, 'init.json'), 'utf8')) as { root_token: string };
    const root = new VaultClient({ addr: vault.addr, token: init.root_token });
    return { root, env, base: dirs.auditFile, running };
  }

  /** Audited traffic until the proxy holds an answer matching what it was told to slow. */
  async function trafficUntilHeld(root: VaultClient, what: string): Promise<void> {
    const before = proxy.slowed;
    await waitFor(
      what,
      async () => {
        await Promise.all(Array.from({ length: 10 }, () => root.read('sys/mounts')));
        return proxy.slowed > before ? true : undefined;
      },
      60_000,
      0,
    );
  }

  test('the audit switch fails while the stop waits for it (connection reset): exit 0, a warning, the next start finishes it', async () => {
    const { root, env, running } = await rotatingVaultInit();
    proxy.slowAnswers(/^(PUT|POST) \/v1\/sys\/audit\//, 5_000);
    await trafficUntilHeld(root, "the rotation's audit enable to be held");
    running.child.kill('SIGTERM');
    await running.waitForOutput(/letting critical work finish first/, 10_000);
    proxy.setMode('reset');
    const exit = await running.waitExit(30_000);
    const out = running.output();
    assert.equal(exit.code, 0, out.slice(-3000));
    assert.match(out, /stopping before critical work finished: the next start finishes it/);
    assert.doesNotMatch(out.slice(out.indexOf('"stopping"')), /"level":"error"/);

    proxy.setMode('pass');
    proxy.slowAnswers(undefined);
    const next = await runVaultInitOnce(env);
    assert.equal(next.code, 0, next.output.slice(-3000));
    assert.equal(Object.keys(await root.auditDevices()).length, 1);
  });

  test('a stop while a rotation reads the devices: a slot is emptied only when the device then moves to it', async () => {
    const { root, base, running } = await rotatingVaultInit();
    const slots = [base, `${base}.1`, `${base}.2`];
    // Two rotations first, so that every slot has lines to lose.
    await waitFor(
      'two audit log rotations',
      async () => {
        await Promise.all(Array.from({ length: 20 }, () => root.read('sys/mounts')));
        return (running.output().match(/audit log rotated/g)?.length ?? 0) >= 2 ? true : undefined;
      },
      60_000,
      0,
    );
    proxy.slowAnswers(/^GET \/v1\/sys\/audit /, 2_000);
    await trafficUntilHeld(root, "a rotation check's device list to be held");
    const sizes = slots.map((f) => (fs.existsSync(f) ? fs.statSync(f).size : 0));
    running.child.kill('SIGTERM');
    const exit = await running.waitExit(30_000);
    assert.equal(exit.code, 0, running.output().slice(-3000));
    const device = Object.values(await root.auditDevices()).map((d) => d.options.file_path);
    assert.equal(device.length, 1);
    slots.forEach((f, i) => {
      const now = fs.existsSync(f) ? fs.statSync(f).size : 0;
      if (now < sizes[i]!)
        assert.equal(device[0], f, `${f} was emptied (${sizes[i]} -> ${now} bytes) but the device writes ${device[0]}`);
    });
  });
});
