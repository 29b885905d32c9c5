// User story: as an operator I back up the stack (Vault's data, the init material, the database) during a
// short pause, later I restore the archive and find exactly the backed-up state, unsealed with the restored
// keys and consistent (doctor: 0 dangling, 0 orphans). A corrupt or truncated archive, a wrong passphrase or
// a missing confirmation is refused with a clear message and touches nothing.
//
// Real processes: the harness Vault (file storage), vault-init --once, PostgreSQL, the app. The target is the
// same DirTarget class native mode uses (files, pg_dump/psql), with the harness's process control in place of
// native.ts's pidfiles.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CredentialsStack, postgresBinDir, tempDir } from '@aurora/process';
import { secretsOnDisk } from '../support/leaks.js';
import { BackupError, type Passphrase } from '../../scripts/ops/archive.js';
import { backup, restore } from '../../scripts/ops/backup-restore.js';
import { DirTarget } from '../../scripts/ops/dir-target.js';
import { parseDoctor } from '../../scripts/ops/doctor-report.js';

function targetFor(stack: CredentialsStack): DirTarget {
  return new DirTarget({
    name: 'test',
    kind: 'test',
    vaultAddr: stack.vault.addr,
    vaultDataDir: stack.vault.dataDir,
    initFile: path.join(stack.initDirs.initDir, 'init.json'),
    pg: {
      binDir: postgresBinDir(),
      host: stack.postgres.host,
      port: stack.postgres.port,
      user: stack.postgres.user,
      database: stack.postgres.database,
      passFile: stack.postgres.pgPassFile,
    },
    control: {
      running: async () =>
        [stack.vault.running ? 'vault' : '', stack.app.running ? 'app' : '', 'postgres'].filter(Boolean),
      stopVault: () => stack.vault.stop(),
      // vault-init's watch loop unseals a restarted Vault; here its --once run does the same.
      startVault: async () => {
        await stack.vault.startProcess();
        await stack.runVaultInit();
      },
      watcherRunning: async () => true,
      stopForRestore: async (options) => {
        await stack.app.stop();
        if (!options?.keepVault) await stack.vault.stop();
      },
      startAfterRestore: async () => {
        await stack.vault.startProcess();
        await stack.runVaultInit();
        await stack.app.startProcess();
        await stack.app.waitReady();
      },
      doctor: async () => parseDoctor(stack.app.doctor(['--json']).stdout),
    },
  });
}

describe('backup and restore bring back exactly the backed-up state', () => {
  let stack: CredentialsStack;
  let target: DirTarget;
  let outDir: string;
  let plainArchive = '';
  let encryptedArchive = '';
  const logs: string[] = [];
  const log = (m: string) => {
    logs.push(m);
  };
  const pass: Passphrase = { value: `pp-${crypto.randomBytes(18).toString('base64url')}` };
  const v = (label: string) => `${label}-${crypto.randomBytes(12).toString('hex')}`;
  const values = { alice1: v('alice1'), alice2: v('alice2'), bob: v('bob'), carol: v('carol') };

  interface State {
    vault: Record<string, number>;
    rows: string[];
    resources: string;
    alice?: unknown;
    bob?: unknown;
    carolStatus: number;
  }
  let backedUp: State;

  const state = async (): Promise<State> => {
    const resolve = async (user: string, type: string) =>
      stack.request('POST', `/users/${user}/credentials/${type}/resolve`, { auth: 'writer' });
    const alice = await resolve('alice', 'github');
    const bob = await resolve('bob', 'aws');
    const carol = await resolve('carol', 'ssh');
    return {
      vault: await stack.vaultSnapshot(),
      rows: await stack.rows(),
      resources: await stack.postgres.psql(
        'aurora',
        "SELECT resource_type || '/' || id || ' ' || resource::text FROM resources ORDER BY 1",
      ),
      alice: alice.status === 200 ? (alice.json as { data: unknown }).data : alice.status,
      bob: bob.status === 200 ? (bob.json as { data: unknown }).data : bob.status,
      carolStatus: carol.status,
    };
  };

  const restoreOpts = (extra: { confirm?: boolean; passphrase?: Passphrase } = {}) => ({
    confirm: false,
    scratchDir: outDir,
    log,
    ...extra,
  });

  before(async () => {
    stack = await CredentialsStack.start();
    target = targetFor(stack);
    outDir = tempDir('backups');
    assert.equal(
      (
        await stack.request('PUT', '/users/alice/credentials/github', {
          auth: 'writer',
          body: { data: { token: values.alice1 } },
        })
      ).status,
      201,
    );
    assert.equal(
      (
        await stack.request('PUT', '/users/bob/credentials/aws', {
          auth: 'writer',
          body: { data: { key: values.bob } },
        })
      ).status,
      201,
    );
    backedUp = await state();
    assert.deepEqual(backedUp.alice, { token: values.alice1 });
    assert.equal(backedUp.carolStatus, 404);
  });
  after(async () => {
    await stack?.stop();
  });

  test('backup writes one timestamped 0600 archive during a short pause, and Vault is unsealed again', async (t) => {
    const res = await backup(target, { outDir, log });
    plainArchive = res.file;
    assert.match(path.basename(res.file), /^aurora-backup-\d{8}T\d{6}Z\.tar\.gz$/);
    assert.equal(fs.statSync(res.file).mode & 0o777, 0o600);
    assert.deepEqual(Object.keys(res.manifest.parts).sort(), ['init.json', 'postgres.sql', 'vault-data.tar']);
    assert.ok(res.pauseMs > 0 && res.pauseMs < 60_000, `pause ${res.pauseMs} ms`);
    t.diagnostic(`Vault paused ${res.pauseMs} ms (stop, copy, pg_dump, start, unseal)`);
    assert.ok(
      logs.some((l) => /^PAUSE: stopping Vault/.test(l)),
      'the pause is announced',
    );
    assert.equal((await target.sealStatus()).sealed, false);
    assert.deepEqual(await state(), backedUp, 'a backup changes nothing');
    // No leftovers of the staging dir next to the archive.
    assert.deepEqual(fs.readdirSync(outDir), [path.basename(res.file)]);
  });

  test('an encrypted backup is an openssl file, not a readable tar', async () => {
    const res = await backup(target, { outDir, log, passphrase: pass });
    encryptedArchive = res.file;
    assert.match(path.basename(res.file), /\.tar\.gz\.enc$/);
    assert.equal(fs.statSync(res.file).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(res.file).subarray(0, 8).toString('latin1'), 'Salted__');
    assert.notEqual(spawnSync('tar', ['-tzf', res.file], { stdio: 'ignore' }).status, 0);
  });

  test('change and delete secrets and rows', async () => {
    assert.equal(
      (
        await stack.request('PUT', '/users/alice/credentials/github', {
          auth: 'writer',
          body: { data: { token: values.alice2 } },
        })
      ).status,
      200,
    );
    assert.equal((await stack.request('DELETE', '/users/bob/credentials/aws', { auth: 'writer' })).status, 204);
    assert.equal(
      (
        await stack.request('PUT', '/users/carol/credentials/ssh', {
          auth: 'writer',
          body: { data: { key: values.carol } },
        })
      ).status,
      201,
    );
    await stack.postgres.psql(
      'aurora',
      "INSERT INTO resources (resource_type, id, resource) VALUES ('Client', 'later', '{\"id\":\"later\"}'::jsonb)",
    );
    const changed = await state();
    assert.deepEqual(changed.alice, { token: values.alice2 });
    assert.equal(changed.bob, 404);
    assert.notDeepEqual(changed, backedUp);
  });

  async function assertRefused(file: string, pattern: RegExp, passphrase?: Passphrase, confirm = true): Promise<void> {
    const before = await state();
    const initBefore = fs.readFileSync(target.options.initFile);
    await assert.rejects(restore(target, file, restoreOpts({ confirm, passphrase })), (err: unknown) => {
      assert.ok(err instanceof BackupError, String(err));
      assert.match(err.message, pattern);
      assert.match(err.message, /Nothing was changed/);
      return true;
    });
    assert.ok(stack.vault.running && stack.app.running, 'the stack was not stopped');
    assert.deepEqual(await state(), before, 'nothing was touched');
    assert.deepEqual(fs.readFileSync(target.options.initFile), initBefore);
  }

  test('a corrupt archive is refused and touches nothing', async () => {
    const bytes = fs.readFileSync(plainArchive);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    const corrupt = path.join(outDir, 'corrupt.tar.gz');
    fs.writeFileSync(corrupt, bytes);
    await assertRefused(corrupt, /corrupt or truncated/);
  });

  test('a truncated archive is refused and touches nothing', async () => {
    const truncated = path.join(outDir, 'truncated.tar.gz');
    fs.writeFileSync(
      truncated,
      fs.readFileSync(plainArchive).subarray(0, Math.floor(fs.statSync(plainArchive).size * 0.6)),
    );
    await assertRefused(truncated, /corrupt or truncated/);
  });

  test('a well-formed archive whose part does not match the manifest is refused', async () => {
    const dir = tempDir('tampered');
    assert.equal(spawnSync('tar', ['-xzf', plainArchive, '-C', dir]).status, 0);
    fs.appendFileSync(path.join(dir, 'postgres.sql'), '\nDELETE FROM credential_references;\n');
    const tampered = path.join(outDir, 'tampered.tar.gz');
    assert.equal(
      spawnSync('tar', ['-czf', tampered, '-C', dir, 'init.json', 'manifest.json', 'postgres.sql', 'vault-data.tar'])
        .status,
      0,
    );
    await assertRefused(tampered, /postgres\.sql is \d+ bytes, the manifest says \d+/);
  });

  test('an encrypted archive without the passphrase, or with a wrong one, is refused', async () => {
    await assertRefused(encryptedArchive, /encrypted .* neither BACKUP_PASSPHRASE nor BACKUP_PASSPHRASE_FILE/);
    await assertRefused(encryptedArchive, /wrong passphrase/, { value: 'not-the-passphrase' });
  });

  test('without confirmation a restore over the running stack is refused', async () => {
    await assertRefused(
      plainArchive,
      /Refusing to overwrite the test stack's data \(running: vault, app, postgres\).*CONFIRM=1/,
      undefined,
      false,
    );
  });

  test('restore with confirmation brings back exactly the backed-up state, unsealed, doctor 0/0', async (t) => {
    const res = await restore(target, plainArchive, restoreOpts({ confirm: true }));
    t.diagnostic(`stack down for ${res.downMs} ms during the restore`);
    assert.deepEqual({ dangling: res.doctor.dangling, orphans: res.doctor.orphans }, { dangling: 0, orphans: 0 });
    assert.equal((await target.sealStatus()).sealed, false);
    assert.deepEqual(await state(), backedUp);
    assert.ok(
      !fs.existsSync(`${stack.vault.dataDir}.pre-restore`),
      'the copy kept for a rollback is removed after a verified restore',
    );
    assert.ok(!fs.existsSync(`${stack.vault.dataDir}.restoring`));
    assert.equal(fs.statSync(target.options.initFile).mode & 0o777, 0o600);
  });

  test('the encrypted archive round-trips too (after another change)', async () => {
    assert.equal((await stack.request('DELETE', '/users/alice/credentials/github', { auth: 'writer' })).status, 204);
    const res = await restore(target, encryptedArchive, restoreOpts({ confirm: true, passphrase: pass }));
    assert.equal(res.doctor.dangling + res.doctor.orphans, 0);
    assert.deepEqual(await state(), backedUp);
  });

  test('no secret value, key or token in any line backup and restore printed', () => {
    const secrets = [...Object.values(values), ...secretsOnDisk(stack.initDirs), pass.value!];
    const text = logs.join('\n');
    for (const s of secrets) assert.ok(!text.includes(s), `${s.slice(0, 6)}… leaked into the backup/restore log`);
    assert.ok(!/\bhv[sbr]\.[A-Za-z0-9_-]{20,}/.test(text));
  });
});
