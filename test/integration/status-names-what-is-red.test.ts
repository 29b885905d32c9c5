// User story: as an operator I run `make status` and one screen tells me how the stack is. On a healthy stack
// nothing is red; with Vault sealed (restarted while vault-init is not there to act) the Vault line is red and
// says vault-init unseals it; with a dangling reference the doctor line is red and says `make doctor`. The screen
// and its --json form carry no secret.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CredentialsStack, tempDir, waitFor, VaultInitProcess } from '@aurora/process';
import { collectStatus, renderStatus, type StatusReport, type StatusSources } from '../../scripts/ops/status.js';
import { parseDoctor } from '../../scripts/ops/doctor-report.js';
import { sealStatus } from '../../scripts/ops/vault-api.js';

describe('make status', () => {
  let stack: CredentialsStack;
  let watcher: VaultInitProcess | undefined;
  const backupDir = tempDir('status-backups');
  const screens: string[] = [];

  const startWatcher = async () => {
    watcher = VaultInitProcess.start(stack.initEnv);
    await watcher.waitForOutput(/watching the seal status/, 60_000);
  };
  const sources = (): StatusSources => ({
    target: 'test stack',
    kind: 'test',
    expected: ['vault', 'postgres', 'vault-init', 'app'],
    running: async () =>
      [
        ['vault', stack.vault.running],
        ['postgres', true],
        ['vault-init', !!watcher && watcher.child.exitCode === null && watcher.child.signalCode === null],
        ['app', stack.app.running],
      ]
        .filter(([, up]) => up)
        .map(([name]) => name as string),
    vaultAddr: stack.vault.addr,
    sealStatus: () => sealStatus(stack.vault.addr),
    vaultInitUrl: `http://127.0.0.1:${stack.initEnv.VAULT_INIT_HEALTH_PORT}`,
    appUrl: stack.app.url,
    appMetricsUrl: stack.app.metricsUrl,
    doctor: async () => parseDoctor((await stack.app.doctorAsync(['--json'])).stdout),
    backupDir,
    logsOf: (s) => `logs/${s}.log`,
    startCommand: 'start it',
  });
  const status = async (): Promise<
    StatusReport & { line(id: string): { level: string; summary: string; fix?: string } }
  > => {
    const report = await collectStatus(sources());
    screens.push(renderStatus(report, false), JSON.stringify(report));
    return {
      ...report,
      line(id: string) {
        const l = report.lines.find((x) => x.id === id);
        assert.ok(l, `no ${id} line in:\n${renderStatus(report, false)}`);
        return l;
      },
    };
  };
  const levels = (r: StatusReport) => Object.fromEntries(r.lines.map((l) => [l.id, l.level]));

  before(async () => {
    stack = await CredentialsStack.start();
    await startWatcher();
    // An archive as `make backup` names it: its age is what the backup line reports.
    fs.writeFileSync(path.join(backupDir, 'aurora-backup-20261129T000000Z.tar.gz'), '');
  });
  after(async () => {
    await watcher?.stop();
    await stack?.stop();
  });

  test('a healthy stack: nothing red, every line there', async () => {
    const r = await status();
    assert.deepEqual(
      levels(r),
      {
        services: 'ok',
        vault: 'ok',
        'vault-init': 'ok',
        app: 'ok',
        tokens: 'ok',
        'audit-log': 'ok',
        doctor: 'ok',
        backup: 'ok',
      },
      renderStatus(r, false),
    );
    assert.equal(r.level, 'ok');
    assert.match(renderStatus(r, false), /All green\./);
  });

  test('Vault sealed, before vault-init acts: the Vault line is red and says who unseals it', async () => {
    await watcher!.stop();
    await stack.vault.restart();
    const r = await status();
    assert.equal(r.line('vault').level, 'red', renderStatus(r, false));
    assert.match(r.line('vault').fix ?? '', /vault-init unseals/);
    assert.equal(r.line('vault-init').level, 'red', 'nothing answers on its port');
    assert.equal(r.line('services').level, 'red');
    assert.equal(r.level, 'red');

    await startWatcher();
    const healed = await waitFor(
      'status to be green again once vault-init unsealed Vault',
      async () => {
        const s = await status();
        return s.line('vault').level === 'ok' && s.line('app').level === 'ok' ? s : undefined;
      },
      60_000,
      500,
    );
    assert.equal(healed.line('vault-init').level, 'ok');
  });

  test('a dangling reference: the doctor line is red and says make doctor', async () => {
    assert.equal(
      (
        await stack.request('PUT', '/users/dan/credentials/db', {
          auth: 'writer',
          body: { data: { password: 'canary-status-5e1d' } },
        })
      ).status,
      201,
    );
    // Destroyed behind the app's back: PostgreSQL keeps a reference to nothing.
    stack.cli(['kv', 'metadata', 'delete', 'aurora/users/dan/db']);
    const r = await status();
    assert.equal(r.line('doctor').level, 'red', renderStatus(r, false));
    assert.match(r.line('doctor').fix ?? '', /make doctor/);
    assert.equal(r.line('vault').level, 'ok');
    assert.equal(r.line('app').level, 'ok');
  });

  test('a soft-deleted credential: red, and the fix brings it back instead of repairing it away', async () => {
    assert.equal(
      (
        await stack.request('PUT', '/users/eve/credentials/db', {
          auth: 'writer',
          body: { data: { password: 'canary-status-77a0' } },
        })
      ).status,
      201,
    );
    // `vault kv delete` is undoable: REPAIR=1 leaves such a credential alone, so status must not advise it.
    stack.cli(['kv', 'delete', 'aurora/users/eve/db']);
    const r = await status();
    assert.equal(r.line('doctor').level, 'red', renderStatus(r, false));
    assert.match(r.line('doctor').summary, /1 recoverable/);
    assert.match(r.line('doctor').fix ?? '', /undelete \/ rollback command/);
  });

  test("a row behind Vault's version (vault kv rollback): red, and the count says version mismatched", async () => {
    for (const password of ['canary-status-0b31', 'canary-status-9d24'])
      assert.ok(
        [200, 201].includes(
          (await stack.request('PUT', '/users/fox/credentials/db', { auth: 'writer', body: { data: { password } } }))
            .status,
        ),
      );
    stack.cli(['kv', 'rollback', '-version=1', 'aurora/users/fox/db']);
    const r = await status();
    assert.equal(r.line('doctor').level, 'red', renderStatus(r, false));
    assert.match(r.line('doctor').summary, /1 version mismatched/);
  });

  test('no screen holds a secret', () => {
    const text = screens.join('\n');
    for (const s of [
      'canary-status-5e1d',
      'canary-status-0b31',
      'canary-status-9d24',
      ...stack.clientSecrets.values(),
      stack.operatorToken,
    ])
      assert.ok(!text.includes(s), `${s.slice(0, 6)}… on the status screen`);
    assert.doesNotMatch(text, /\bhv[sbr]\.[A-Za-z0-9_-]{20,}/);
  });
});
