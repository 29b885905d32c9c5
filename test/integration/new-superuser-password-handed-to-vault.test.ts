// User story: as an operator whose Vault holds a stale PostgreSQL superuser password (a restored Vault, or a lost
// connection), I give the superuser a new password the way `make restore` does (single-user mode, PostgreSQL
// stopped, only the SCRAM verifier sent) and write it into the bootstrap file; vault-init notices the new value,
// hands it to Vault and has Vault rotate it, so Vault issues users again and the new value is dead at once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { VaultClient } from '@aurora/common';
import { postgresBinDir, type PostgresServer, type VaultServer } from '@aurora/process';
import { newSuperuserPassword } from '../../scripts/ops/database-login.js';
import { DirTarget } from '../../scripts/ops/dir-target.js';
import { connectAs, databaseScene, type DatabaseScene } from '../support/database-scene.js';
import { configureChanges, runOnceOk } from '../support/vault-init-runs.js';
import { initRootClient } from '../support/vault-init-scene.js';

describe('a new superuser password in the bootstrap file is handed to Vault and rotated', () => {
  let scene: DatabaseScene;
  let vault: VaultServer;
  let postgres: PostgresServer;
  let root: VaultClient;
  let target: DirTarget;
  let fresh: string;
  const outputs: string[] = [];

  const superuserLogin = async (password: string): Promise<void> => {
    await (await connectAs(postgres, { username: postgres.user, password })).end();
  };

  before(async () => {
    scene = await databaseScene();
    ({ vault, postgres } = scene);
    await runOnceOk(scene.env, outputs, { timeoutMs: 120_000 });
    root = initRootClient(vault, scene.dirs);
    const unused = () => {
      throw new Error('not part of this story');
    };
    target = new DirTarget({
      name: 'database story',
      kind: 'test',
      vaultAddr: vault.addr,
      vaultDataDir: path.join(scene.dirs.initDir, 'unused'),
      initFile: path.join(scene.dirs.initDir, 'init.json'),
      pg: {
        binDir: postgresBinDir(),
        host: postgres.host,
        port: postgres.port,
        user: postgres.user,
        database: postgres.database,
        admin: { dataDir: postgres.dataDir, bootstrapPasswordFile: postgres.passwordFile },
      },
      control: {
        running: async () => [],
        stopPostgres: () => postgres.stop(),
        stopVault: unused,
        startVault: unused,
        watcherRunning: async () => false,
        stopForRestore: unused,
        startAfterRestore: unused,
        doctor: unused,
      },
    });
  });
  after(async () => {
    await vault?.stop();
    await postgres?.stop();
  });

  test('single-user mode sets the new password and the bootstrap file holds it; Vault’s copy is stale', async () => {
    fresh = newSuperuserPassword();
    await target.resetDatabaseAdmin(fresh);
    await postgres.startProcess();
    assert.equal(fs.readFileSync(postgres.passwordFile, 'utf8'), `${fresh}\n`);
    assert.equal(fs.statSync(postgres.passwordFile).mode & 0o777, 0o600);
    await superuserLogin(fresh);
    await assert.rejects(root.database().credentials('aurora-app'), 'Vault still logs in with its old password');
    const log = fs.readFileSync(postgres.logFile, 'utf8');
    assert.ok(!log.includes(fresh), 'the new password reached PostgreSQL’s log');
  });

  test('vault-init hands it over and Vault rotates it: users again, and the new value is dead', async () => {
    const changed = configureChanges((await runOnceOk(scene.env, outputs, { timeoutMs: 120_000 })).output);
    assert.ok(changed.includes('database-connection:aurora=updated'), changed.join(', '));
    const creds = await root.database().credentials('aurora-app');
    await root.revokeLease(creds.leaseId);
    await assert.rejects(superuserLogin(fresh), /password authentication failed/);
    for (const output of outputs) assert.ok(!output.includes(fresh), 'the new password reached vault-init’s output');
  });

  test('a rerun with the same file changes nothing', async () => {
    const changed = configureChanges((await runOnceOk(scene.env, outputs, { timeoutMs: 120_000 })).output);
    assert.ok(!changed.some((c) => c.startsWith('database-connection')), changed.join(', '));
  });

  test('Vault keeps a salted, slow fingerprint of the handed-over value: nothing a reader could look up or test fast', async () => {
    const record = (await root.kvRead('secret', 'aurora/database-bootstrap')).data;
    assert.deepEqual(Object.keys(record), ['fingerprint']);
    assert.match(record.fingerprint ?? '', /^scrypt\$16384\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    const sha256 = crypto.createHash('sha256').update(fresh).digest();
    for (const encoding of ['hex', 'base64', 'base64url'] as const)
      assert.ok(!JSON.stringify(record).includes(sha256.toString(encoding)), `a plain SHA-256 (${encoding})`);
    assert.ok(!JSON.stringify(record).includes(fresh));
  });

  test('a record of the earlier format (a plain SHA-256 of the same value) is kept as handed over and replaced', async () => {
    const sha256 = crypto.createHash('sha256').update(fresh).digest('hex');
    await root.kvWrite('secret', 'aurora/database-bootstrap', { sha256 });
    const changed = configureChanges((await runOnceOk(scene.env, outputs, { timeoutMs: 120_000 })).output);
    assert.ok(!changed.some((c) => c.startsWith('database-connection')), changed.join(', '));
    const record = (await root.kvRead('secret', 'aurora/database-bootstrap')).data;
    assert.deepEqual(Object.keys(record), ['fingerprint']);
  });
});
