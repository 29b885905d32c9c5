// User story: as an operator, I know the PostgreSQL the tests and `make native` run checks passwords the way
// production does (scram-sha-256, no `trust`): a wrong or missing password is refused, the generated one lives
// only in 0600 files next to the cluster, and the app, psql and pg_dump all connect with it from there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '@aurora/app/config';
import { createPool } from '@aurora/app/store/db';
import { PostgresServer, postgresBinDir } from '@aurora/process';
import { connectAs } from '../support/database-scene.js';

describe('PostgreSQL authenticates every connection with scram-sha-256', () => {
  let postgres: PostgresServer;
  before(async () => {
    postgres = await PostgresServer.start();
  });
  after(async () => {
    await postgres?.stop();
  });

  const connect = async (password: string): Promise<unknown> => {
    try {
      const db = await connectAs(postgres, { username: postgres.user, password });
      try {
        await db.query('SELECT 1');
      } finally {
        await db.end().catch(() => undefined);
      }
      return undefined;
    } catch (err) {
      return err;
    }
  };

  test('a wrong password is refused with 28P01 (invalid_password)', async () => {
    const err = (await connect(`${postgres.password}x`)) as { code?: string } | undefined;
    assert.ok(err, 'a wrong password must not connect');
    assert.equal(err.code, '28P01', `PostgreSQL names the failed password authentication: ${String(err)}`);
    assert.match(String(err), /password authentication failed for user "postgres"/);
  });

  test('no password is refused too: the server asks for SCRAM, which an empty password cannot answer', async () => {
    // node-postgres will not send an empty password: it fails once the server has asked for SCRAM
    // (SCRAM-SERVER-FIRST-MESSAGE), so this error proves the server demanded a password (`trust` would have
    // let it in) and rules out a connection error, which fails before any authentication exchange.
    const err = await connect('');
    assert.ok(err, 'an empty password must not connect');
    assert.match(String(err), /SCRAM-SERVER-FIRST-MESSAGE: client password must be a (non-empty )?string/);
  });

  test('the generated password connects, and pg_hba.conf trusts no one', async () => {
    assert.equal(await connect(postgres.password), undefined);
    const hba = (await postgres.psql('postgres', 'SELECT auth_method FROM pg_hba_file_rules')).trim().split('\n');
    assert.ok(hba.length > 0);
    assert.deepEqual([...new Set(hba)], ['scram-sha-256'], `pg_hba.conf rules: ${hba.join(', ')}`);
  });

  test('the password and the libpq password file are 0600 files next to the data directory', () => {
    for (const file of [postgres.passwordFile, postgres.pgPassFile]) {
      assert.equal(path.dirname(file), path.dirname(postgres.dataDir));
      assert.equal(fs.statSync(file).mode & 0o777, 0o600, `${file} is 0600`);
    }
    assert.ok(postgres.password.length >= 40, 'a generated password of 32 random bytes');
  });

  test('psql and pg_dump connect through PGPASSFILE; the app through PGPASSWORD_FILE', async () => {
    assert.equal((await postgres.psql(postgres.database, 'SELECT current_user')).trim(), 'postgres');
    assert.match(postgres.pgDump(), /PostgreSQL database dump/);
    assert.ok(!('PGPASSWORD' in postgres.env), 'the app gets no password in its environment');
    const config = loadConfig({ ...postgres.env, VAULT_APPROLE_DIR: '/nonexistent' });
    assert.equal(config.postgres.password, undefined);
    const pool = createPool(config.postgres);
    try {
      assert.equal((await pool.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u, 'postgres');
    } finally {
      await pool.end();
    }
    assert.ok(fs.existsSync(path.join(postgresBinDir(), 'psql')));
  });

  test('the app names an unreadable password file and the setting, never a value', async () => {
    const config = loadConfig({ ...postgres.env, PGPASSWORD_FILE: path.join(postgres.dir, 'missing') });
    const pool = createPool(config.postgres);
    try {
      await assert.rejects(
        pool.query('SELECT 1'),
        /cannot read the PostgreSQL password file .*missing \(PGPASSWORD_FILE\): ENOENT/,
      );
    } finally {
      await pool.end();
    }
  });

  test('setting PGPASSWORD and PGPASSWORD_FILE together is a configuration error', () => {
    assert.throws(
      () => loadConfig({ ...postgres.env, PGPASSWORD: 'x' }),
      /PGPASSWORD and PGPASSWORD_FILE are both set/,
    );
  });
});
