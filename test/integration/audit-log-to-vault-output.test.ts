// User story: as an operator whose vault-init cannot see Vault's files (Kubernetes pods, the HA compose nodes), I
// set VAULT_AUDIT_FILE=stdout: Vault writes its audit log to its own output, which the container runtime keeps
// and rotates (the kubelet, Docker's json-file driver), every request is there with its values HMAC'd, and
// vault-init neither rotates a file it cannot empty nor reports the size of one on /metrics; `make status` calls
// that fine.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { VaultInitProcess, parseScrape, waitFor, type VaultInitDirs, type VaultServer } from '@aurora/process';
import { initRootClient, vaultInitScene } from '../support/vault-init-scene.js';
import { auditLogLine } from '../../scripts/ops/status.js';

describe("the audit log on Vault's standard output", () => {
  let vault: VaultServer;
  let dirs: VaultInitDirs;
  let env: Record<string, string>;
  let proc: VaultInitProcess;

  before(async () => {
    // A check interval far below the default: a rotation attempt would show within the test.
    ({ vault, dirs, env } = await vaultInitScene({
      VAULT_AUDIT_FILE: 'stdout',
      VAULT_AUDIT_ROTATE_AGE: '1s',
      VAULT_AUDIT_CHECK_INTERVAL_MS: '100',
    }));
    proc = VaultInitProcess.start(env);
    await proc.waitForOutput(/watching the seal status/, 60_000);
  });
  after(async () => {
    await proc?.stop();
    await vault?.stop();
  });

  test("the device writes to stdout; a write is in Vault's output, HMAC'd; no file, no rotation", async () => {
    const root = initRootClient(vault, dirs);
    const devices = await root.auditDevices();
    const ours = Object.entries(devices).filter(([, d]) => d.type === 'file');
    assert.deepEqual(
      ours.map(([p, d]) => [p, d.options?.file_path]),
      [['file/', 'stdout']],
    );

    const canary = `audit-canary-${Date.now()}`;
    await root.kvWrite('aurora', 'users/audit-out/k', { token: canary });
    const line = await waitFor(
      "the write's audit line in Vault's output",
      () =>
        fs
          .readFileSync(vault.logFile, 'utf8')
          .split('\n')
          .find((l) => l.includes('"type":"response"') && l.includes('"path":"aurora/data/users/audit-out/k"')),
      30_000,
    );
    assert.match(line, /"token":"hmac-sha256:/);
    assert.ok(!fs.readFileSync(vault.logFile, 'utf8').includes(canary), "a secret value reached Vault's output");
    assert.deepEqual(fs.readdirSync(`${dirs.root}/logs`), [], 'an audit file was written');

    // Well past the 1 s rotation age, with checks every 100 ms: vault-init said once why it does not rotate.
    await waitFor("vault-init's note that the runtime rotates the audit log", () =>
      /the container runtime keeps and rotates it/.test(proc.output()) ? true : undefined,
    );
    // An observation window, not a wait for something: nothing may happen in it. With the old behaviour, a switch
    // to another file would come within 1 s (the age) + 100 ms (the check interval).
    await new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref());
    assert.doesNotMatch(proc.output(), /audit log rotated|audit log rotation failed|cannot see the audit log/);
    assert.deepEqual(
      Object.keys(await root.auditDevices()).filter((p) => p.startsWith('file')),
      ['file/'],
    );

    const res = await fetch(`http://127.0.0.1:${env.VAULT_INIT_HEALTH_PORT}/metrics`);
    const m = parseScrape(await res.text());
    assert.ok(!m.names().includes('aurora_vault_audit_log_bytes'), 'a file size reported for stdout');
    // `make status` reads where the log goes from the same scrape: Vault's output is fine, not "size unknown".
    assert.equal(m.value('aurora_vault_audit_log_info', { destination: 'stdout' }), 1);
    assert.equal(auditLogLine(m).level, 'ok', auditLogLine(m).summary);
  });
});
