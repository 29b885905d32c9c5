// User story: as an operator, I hand PostgreSQL to Vault once and never know its password again: vault-init
// configures Vault's database secrets engine (connection, rotate-root, a role for the app and one for
// maintenance, each identity allowed only its own credentials), the bootstrap password stops working, the
// users Vault issues can do exactly their job, what migrations create belongs to a fixed role so dropping a
// user breaks nothing, a rerun changes nothing and a hand-made change is put back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { VaultClient, VaultForbiddenError, type DatabaseCredentials } from '@aurora/common';
import { type PostgresServer, type VaultInitDirs, type VaultServer } from '@aurora/process';
import { connectAs, databaseScene } from '../support/database-scene.js';
import { leakedLines } from '../support/leaks.js';
import { configureChanges, runOnceOk } from '../support/vault-init-runs.js';
import { initRootClient } from '../support/vault-init-scene.js';

describe('vault-init gives PostgreSQL to Vault’s database secrets engine', () => {
  let vault: VaultServer;
  let postgres: PostgresServer;
  let dirs: VaultInitDirs;
  let env: Record<string, string>;
  let root: VaultClient;
  let bootstrapPassword: string;
  const outputs: string[] = [];
  const issued: string[] = [];

  const creds = async (role: string, client = root): Promise<DatabaseCredentials> => {
    const c = await client.database().credentials(role);
    issued.push(c.password);
    return c;
  };
  const query = async (c: { username: string; password: string }, sql: string): Promise<unknown[]> => {
    const db = await connectAs(postgres, c);
    try {
      return (await db.query(sql)).rows;
    } finally {
      await db.end();
    }
  };

  before(async () => {
    ({ vault, postgres, dirs, env } = await databaseScene({ VAULT_DB_DEFAULT_TTL: '5m', VAULT_DB_MAX_TTL: '1h' }));
    bootstrapPassword = postgres.password;
    const changed = configureChanges((await runOnceOk(env, outputs, { timeoutMs: 120_000 })).output);
    for (const object of [
      'secrets:database=created',
      'database-connection:aurora=created',
      'database-role:aurora-app=created',
      'database-role:aurora-maintenance=created',
    ])
      assert.ok(changed.includes(object), `${object} in ${changed.join(', ')}`);
    root = initRootClient(vault, dirs);
  });
  after(async () => {
    await vault?.stop();
    await postgres?.stop();
  });

  test('after rotate-root the bootstrap password is refused: only Vault knows the live one', async () => {
    const db = new pg.Client({
      host: postgres.host,
      port: postgres.port,
      database: postgres.database,
      user: postgres.user,
      password: bootstrapPassword,
      connectionTimeoutMillis: 10_000,
    });
    await assert.rejects(db.connect(), (err: { code?: string }) => err.code === '28P01');
    await db.end().catch(() => undefined);
    // The file stays (PostgreSQL's image reads it at every start), holding a value that no longer works.
    assert.equal(fs.readFileSync(postgres.passwordFile, 'utf8').trim(), bootstrapPassword);
    const connection = await root.database().readConnection('aurora');
    assert.equal(connection?.plugin_name, 'postgresql-database-plugin');
    assert.ok(!JSON.stringify(connection).includes(bootstrapPassword), 'Vault never answers with the password');
  });

  test('migrations as the maintenance user create objects owned by aurora_owner; the app user gets rows only', async () => {
    const maintenance = await creds('aurora-maintenance');
    await query(maintenance, 'CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)');
    const owner = (await query(maintenance, "SELECT tableowner FROM pg_tables WHERE tablename = 'notes'")) as Array<{
      tableowner: string;
    }>;
    assert.equal(owner[0]?.tableowner, 'aurora_owner');

    const app = await creds('aurora-app');
    assert.match(app.username, /^v-root-aurora-a/, 'Vault names the user after the token and the role');
    assert.ok(app.leaseDuration > 0 && app.leaseDuration <= 300, `default TTL 5m: ${app.leaseDuration} s`);
    await query(app, "INSERT INTO notes (body) VALUES ('hello')");
    assert.deepEqual(await query(app, 'SELECT body FROM notes'), [{ body: 'hello' }]);
    await assert.rejects(query(app, 'CREATE TABLE mine (x int)'), (err: { code?: string }) => err.code === '42501');
    await assert.rejects(query(app, 'DROP TABLE notes'), (err: { code?: string }) => err.code === '42501');
    await assert.rejects(query(app, 'CREATE ROLE intruder'), (err: { code?: string }) => err.code === '42501');

    // Dropping the user that created the table (its lease revoked) leaves the table and the app's access.
    await root.revokeLease(maintenance.leaseId);
    const app2 = await creds('aurora-app');
    assert.deepEqual(await query(app2, 'SELECT count(*)::int AS n FROM notes'), [{ n: 1 }]);
  });

  test('a revoked lease drops its user from pg_roles', async () => {
    const app = await creds('aurora-app');
    const maintenance = await creds('aurora-maintenance');
    const present = async (name: string) =>
      (
        (await query(maintenance, `SELECT count(*)::int AS n FROM pg_roles WHERE rolname = '${name}'`)) as Array<{
          n: number;
        }>
      )[0]!.n;
    assert.equal(await present(app.username), 1);
    await root.revokeLease(app.leaseId);
    assert.equal(await present(app.username), 0);
    await assert.rejects(connectAs(postgres, app));
  });

  test('each identity reads only its own credentials', async () => {
    const roleId = fs.readFileSync(path.join(dirs.approleDir, 'app', 'role_id'), 'utf8').trim();
    const secretId = fs.readFileSync(path.join(dirs.approleDir, 'app', 'secret_id'), 'utf8').trim();
    const appToken = (await root.approleLogin(roleId, secretId)).token;
    const appClient = root.withToken(appToken, 30_000);
    const mine = await creds('aurora-app', appClient);
    const renewed = await appClient.renewLease(mine.leaseId);
    assert.ok(renewed.leaseDuration > 0);
    await assert.rejects(appClient.database().readConnection('aurora'), VaultForbiddenError);
    await assert.rejects(appClient.database().rotateRoot('aurora'), VaultForbiddenError);
    await appClient.revokeLease(mine.leaseId);

    const operator = root.withToken(fs.readFileSync(path.join(dirs.cliDir, '.vault-token'), 'utf8').trim(), 30_000);
    const maintenance = await creds('aurora-maintenance', operator);
    await operator.revokeLease(maintenance.leaseId);
    await assert.rejects(operator.database().credentials('aurora-app'), VaultForbiddenError);
    // Lease rights follow the lease's path (the role), not who was issued it: the operator's token renews a
    // maintenance lease someone else holds, and can neither renew nor revoke a lease of the app's role.
    const other = await creds('aurora-maintenance');
    const stranger = await root.database().credentials('aurora-app');
    assert.ok((await operator.renewLease(other.leaseId)).leaseDuration > 0);
    await assert.rejects(operator.renewLease(stranger.leaseId), VaultForbiddenError);
    await assert.rejects(operator.revokeLease(stranger.leaseId), VaultForbiddenError);
    await root.revokeLease(stranger.leaseId);
    await root.revokeLease(other.leaseId);
  });

  test('a rerun changes nothing; hand-made changes to the connection and a role are put back', async () => {
    const again = await runOnceOk(env, outputs, { timeoutMs: 120_000 });
    assert.deepEqual(configureChanges(again.output), []);

    const role = (await root.database().readRole('aurora-app'))!;
    await root.database().writeRole('aurora-app', { ...role, default_ttl: 7, creation_statements: ['SELECT 1'] });
    await root.write('database/config/aurora', {
      plugin_name: 'postgresql-database-plugin',
      allowed_roles: ['aurora-app'],
      verify_connection: false,
    });
    const repaired = await runOnceOk(env, outputs, { timeoutMs: 120_000 });
    assert.deepEqual(configureChanges(repaired.output).sort(), [
      'database-connection:aurora=updated',
      'database-role:aurora-app=updated',
    ]);
    assert.equal((await root.database().readRole('aurora-app'))?.default_ttl, 300);
    // The live password survived the repair (it was never needed): both roles still issue working users.
    for (const name of ['aurora-app', 'aurora-maintenance']) {
      const c = await creds(name);
      assert.deepEqual(await query(c, 'SELECT 1 AS one'), [{ one: 1 }]);
      await root.revokeLease(c.leaseId);
    }
  });

  test('no password, bootstrap or issued, reaches vault-init’s output', () => {
    const secrets = [bootstrapPassword, ...issued];
    for (const output of outputs) assert.deepEqual(leakedLines(output, secrets), []);
  });
});
