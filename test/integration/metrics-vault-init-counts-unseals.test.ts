// User story: as an operator I scrape vault-init's /metrics (on its health port) and it says how Vault is and what
// vault-init did: the node unsealed, one unseal per Vault start, when configure last succeeded, drift it put back
// (a policy edited by hand), the audit log's size; and the scrape holds no key or token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient } from '@aurora/common';
import { VaultServer, waitFor, VaultInitProcess, type VaultInitDirs, parseScrape, type Scrape } from '@aurora/process';
import { vaultInitScene } from '../support/vault-init-scene.js';
import { secretsOnDisk } from '../support/leaks.js';

describe("vault-init's /metrics", () => {
  let vault: VaultServer;
  let dirs: VaultInitDirs;
  let env: Record<string, string>;
  let proc: VaultInitProcess;
  const scrapes: string[] = [];

  const scrape = async (): Promise<Scrape> => {
    const res = await fetch(`http://127.0.0.1:${env.VAULT_INIT_HEALTH_PORT}/metrics`, {
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    scrapes.push(text);
    return parseScrape(text);
  };

  before(async () => {
    ({ vault, dirs, env } = await vaultInitScene());
    proc = VaultInitProcess.start(env);
    await proc.waitForOutput(/watching the seal status/, 60_000);
  });
  after(async () => {
    await proc?.stop();
    await vault?.stop();
  });

  test('after a fresh start: unsealed, one unseal, configured just now, the audit log measured', async () => {
    const m = await scrape();
    const node = { node: vault.addr };
    assert.equal(m.value('aurora_vault_sealed', node), 0);
    assert.equal(m.value('aurora_vault_up', node), 1);
    assert.equal(m.value('aurora_vault_init_unseals_total', node), 1);
    const configuredAt = m.value('aurora_vault_init_last_configure_success_timestamp_seconds') ?? 0;
    assert.ok(Math.abs(Date.now() / 1000 - configuredAt) < 300, `last configure at ${configuredAt}`);
    // A first configure creates everything: set-up, not drift.
    assert.equal(m.value('aurora_vault_init_configure_drift_repaired_total'), undefined);
    assert.ok((m.value('aurora_vault_audit_log_bytes', { file: dirs.auditFile }) ?? 0) > 0);
    assert.equal(m.value('aurora_vault_audit_log_info', { destination: dirs.auditFile }), 1);
    assert.equal(m.value('aurora_vault_audit_log_rotations_total'), 0);
    assert.equal(m.value('aurora_vault_raft_voters'), undefined, 'no Raft gauges on a single node');
    assert.ok(m.names().includes('process_cpu_seconds_total'));
  });

  test('a Vault restart is one more unseal; a policy edited by hand is drift put back', async () => {
    const init = JSON.parse(fs.readFileSync(path.join(dirs.initDir, 'init.json'), 'utf8')) as { root_token: string };
    const root = new VaultClient({ addr: vault.addr, token: init.root_token });
    await root.writePolicy('aurora-metrics', 'path "sys/metrics" {\n  capabilities = ["read", "list"]\n}\n');
    await vault.restart();
    const after = await waitFor(
      'vault-init to count the second unseal',
      async () => {
        const m = await scrape().catch(() => undefined);
        return m && m.value('aurora_vault_init_unseals_total', { node: vault.addr }) === 2 ? m : undefined;
      },
      60_000,
      200,
    );
    // The unseal is counted before configure runs: wait for configure's own trace. The seal gauges read Vault at
    // most once a second (one read shared by the gauges of a scrape), so a scrape right after the unseal may still
    // show the node sealed: wait for one that shows both.
    const m = await waitFor(
      'configure to repair the policy, and a scrape that shows the node unsealed',
      async () => {
        const s = await scrape();
        return s.value('aurora_vault_init_configure_drift_repaired_total', { kind: 'policy' }) &&
          s.value('aurora_vault_sealed', { node: vault.addr }) === 0
          ? s
          : undefined;
      },
      60_000,
      200,
    );
    assert.equal(m.value('aurora_vault_init_configure_drift_repaired_total', { kind: 'policy' }), 1);
    assert.equal(m.value('aurora_vault_init_configure_drift_repaired_total'), 1, 'nothing else drifted');
    assert.equal(m.value('aurora_vault_sealed', { node: vault.addr }), 0);
    assert.ok(
      (m.value('aurora_vault_init_last_configure_success_timestamp_seconds') ?? 0) >=
        (after.value('aurora_vault_init_last_configure_success_timestamp_seconds') ?? 0),
    );
    assert.match((await root.readPolicy('aurora-metrics')) ?? '', /auth\/token\/renew-self/);
  });

  test('no scrape holds an unseal key, the root token, a secret_id or a token vault-init wrote', () => {
    const secrets = secretsOnDisk(dirs);
    assert.ok(secrets.length >= 5);
    const text = scrapes.join('\n');
    assert.deepEqual(
      secrets.filter((s) => text.includes(s)).map((s) => `${s.slice(0, 4)}…`),
      [],
    );
    assert.doesNotMatch(text, /\bhv[sbr]\.[A-Za-z0-9_-]{20,}/);
  });
});
