// User story: vault-init was killed (`docker kill`, OOM) while it asked Vault to enable the audit device, at
// the first start or in the middle of a rotation. Vault 1.21 can then keep a device it no longer lists: it
// writes to its file, cannot be disabled, and refuses every enable at its path until Vault restarts. The
// restarted vault-init still ends with the audit log on the ring, through another device path, and says what
// Vault holds and what clears it. Only when every path it uses is held does it stop, naming the way out.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { VaultClient } from '@aurora/common';
import { runVaultInitOnce, VaultInitProcess, waitFor, type VaultServer } from '@aurora/process';
import { fieldFault } from '../faults/field-fault.js';
import { leaveUnlistedAuditDevice } from '../support/unlisted-audit-device.js';
import { runOnceOk } from '../support/vault-init-runs.js';
import { initRootClient, vaultInitScene, type VaultInitScene } from '../support/vault-init-scene.js';

const { test } = fieldFault('audit-enable-cut-off', {
  fault: 'vault-init killed while enabling the audit device: Vault kept a device it does not list',
  outcome: 'the restarted vault-init audits through a spare device path and warns; rotation keeps turning',
});

const DEVICE_PATHS = ['file', 'file-next', 'file-spare-1', 'file-spare-2', 'file-spare-3', 'file-spare-4'];

let scene: VaultInitScene;
let root: VaultClient;
const outputs: string[] = [];

/** Our listed devices: path -> file. */
async function listed(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [p, d] of Object.entries(await root.auditDevices())) out[p] = d.options.file_path!;
  return out;
}

/** A fresh Vault configured by one full vault-init run, with rotation fast enough to watch. */
async function configuredVault(): Promise<void> {
  scene = await vaultInitScene({
    VAULT_SECRET_SHARES: '1',
    VAULT_SECRET_THRESHOLD: '1',
    VAULT_AUDIT_KEEP_FILES: '3',
    VAULT_AUDIT_ROTATE_SIZE: '8k',
    VAULT_AUDIT_CHECK_INTERVAL_MS: '100',
  });
  await runOnceOk(scene.env, outputs);
  root = initRootClient(scene.vault, scene.dirs);
}

/**
 * Vault's next unseal drops unlisted devices: Vault restarted (same storage), unsealed by vault-init, and every
 * listed audit device disabled.
 */
async function restartVaultWithoutDevices(): Promise<void> {
  await scene.vault.restart();
  await runOnceOk(scene.env, outputs);
  for (const p of Object.keys(await listed())) await root.delete(`sys/audit/${p}`);
}

/** vault-init's JSON log lines. */
function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function stopVault(v: VaultServer | undefined): Promise<void> {
  await v?.stop();
}

before(configuredVault);
after(() => stopVault(scene?.vault));

test('killed while enabling the device at the first start: the rerun audits through file-next/ and warns', async () => {
  const base = scene.dirs.auditFile;
  // The state a killed first run leaves: no listed device, an unlisted one at file/ on the log file.
  await root.delete('sys/audit/file');
  await leaveUnlistedAuditDevice(root, 'file', base);
  assert.deepEqual(await listed(), {});

  const { output } = await runOnceOk(scene.env, outputs);
  assert.match(output, /audit:file=created/);
  assert.match(output, /"level":"warn".*holds an audit device at file\/ that sys\/audit does not list/);
  assert.match(output, /restarts \(or is sealed and unsealed\)/);
  assert.deepEqual(await listed(), { 'file-next/': base });

  // Audited: a request after the rerun is in the log file.
  const before = fs.statSync(base).size;
  await root.read('sys/mounts');
  assert.ok(fs.statSync(base).size > before, 'the request after the rerun was not audited');

  // A second rerun finds the device on the ring: nothing to change, nothing to warn about.
  const again = await runOnceOk(scene.env, outputs);
  assert.doesNotMatch(again.output, /audit:file=/);
  assert.doesNotMatch(again.output, /does not list/);

  // Vault restarted: its stored table may list the half-enabled device again, beside ours; the rerun leaves one.
  await scene.vault.restart();
  await runOnceOk(scene.env, outputs);
  assert.deepEqual(Object.values(await listed()), [base]);
});

// The device in use, and the path Vault holds unlisted: the first start's case (held at file/, in use at
// file-next/) and a rotation's (in use at file/, cut off while enabling file-next/).
for (const [active, held] of [
  ['file', 'file-next'],
  ['file-next', 'file'],
] as const) {
  test(`held at ${held}/ while ${active}/ writes: every rotation takes another path, one warning, the ring turns on`, async () => {
    const base = scene.dirs.auditFile;
    await restartVaultWithoutDevices();
    await root.enableAuditDevice(active, 'file', { file_path: base, mode: '0660' });
    await leaveUnlistedAuditDevice(root, held, `${base}.1`);
    assert.deepEqual(await listed(), { [`${active}/`]: base });

    const proc = VaultInitProcess.start(scene.env);
    let out: string;
    try {
      await proc.waitForOutput(/watching the seal status/, 60_000);
      // Traffic until the device has gone once round the ring of three files.
      const rotations = () => logLines(proc.output()).filter((l) => l.message === 'audit log rotated');
      await waitFor(
        'three audit log rotations',
        async () => {
          await Promise.all(Array.from({ length: 20 }, () => root.read('sys/mounts')));
          return rotations().length >= 3 ? true : undefined;
        },
        120_000,
        0,
      );
    } finally {
      // A stop waits for a switch in flight: never two devices, never a cut-off enable.
      await proc.stop();
      out = proc.output();
      outputs.push(out);
    }
    assert.doesNotMatch(out, /audit log rotation failed/);
    const warnings = logLines(out).filter((l) => l.level === 'warn' && /does not list/.test(String(l.message)));
    assert.equal(warnings.length, 1, out.slice(-3000));
    assert.match(
      String(warnings[0]!.message),
      new RegExp(`holds an audit device at ${held}/ that sys/audit does not list`),
    );
    const moves = logLines(out).filter((l) => l.message === 'audit log rotated');
    assert.deepEqual(
      moves.slice(0, 3).map((m) => m.to),
      [`${base}.1`, `${base}.2`, base],
    );
    for (const m of moves) assert.notEqual(m.device, held);
    const devices = Object.values(await listed());
    assert.equal(devices.length, 1, JSON.stringify(await listed()));
    assert.ok([base, `${base}.1`, `${base}.2`].includes(devices[0]!), devices[0]);
  });
}

test('every device path held by an unlisted device: vault-init stops with exit 5, naming the cause and the fix', async () => {
  await restartVaultWithoutDevices();
  const base = scene.dirs.auditFile;
  for (const p of DEVICE_PATHS) await leaveUnlistedAuditDevice(root, p, base);

  const run = await runVaultInitOnce(scene.env);
  outputs.push(run.output);
  assert.equal(run.code, 5, run.output.slice(-3000));
  assert.match(run.output, /Vault refuses every device path vault-init uses/);
  assert.match(run.output, /Restart Vault \(or seal and unseal it\)/);
  assert.deepEqual(await listed(), {}, 'nothing half-made');

  // The way out, as the message says: Vault restarted, vault-init again.
  await scene.vault.restart();
  await runOnceOk(scene.env, outputs);
  assert.deepEqual(Object.values(await listed()), [base]);
});
