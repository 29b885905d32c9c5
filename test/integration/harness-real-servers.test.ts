// User story: as a developer, the test harness gives me a real Vault 1.21.4 and a real PostgreSQL,
// and the project's Vault client and the user's documented CLI commands both work against them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { VaultClient, VaultNotFoundError } from '@aurora/common';
import { VaultServer, initAndUnseal, pinnedVaultVersion, vaultBinary, PostgresServer, run } from '@aurora/process';

describe('a real Vault from empty file storage', () => {
  let vault: VaultServer;
  let client: VaultClient;
  let rootToken: string;

  before(async () => {
    vault = await VaultServer.start();
    client = new VaultClient({ addr: vault.addr });
  });
  after(async () => {
    await vault?.stop();
  });

  test('is the pinned version', () => {
    assert.match(
      run(vaultBinary(), ['version']),
      new RegExp(`^Vault v${pinnedVaultVersion().replace(/\./g, '\\.')}(?:[ ,]|$)`, 'm'),
    );
  });

  test('starts uninitialized and sealed, then initializes and unseals', async () => {
    assert.deepEqual(await client.health(), { ...(await client.health()), initialized: false, sealed: true });
    ({ rootToken } = await initAndUnseal(vault));
    assert.match(rootToken, /^hvs\./);
    const health = await client.health();
    assert.equal(health.initialized, true);
    assert.equal(health.sealed, false);
    assert.equal(health.version, pinnedVaultVersion());
  });

  test('KV v2 at aurora: write and read through the project wrapper', async () => {
    client.token = rootToken;
    await client.enableSecretsEngine('aurora', 'kv', { version: '2' });
    const meta = await client.kvWrite('aurora', 'users/alice/github', { token: 'canary-harness-1' });
    assert.equal(meta.version, 1);
    const secret = await client.kvRead('aurora', 'users/alice/github');
    assert.deepEqual(secret.data, { token: 'canary-harness-1' });
    await client.kvDestroyAll('aurora', 'users/alice/github');
    await assert.rejects(client.kvRead('aurora', 'users/alice/github'), VaultNotFoundError);
  });

  test("the user's CLI round trip: kv put, kv get, kv list", () => {
    const env = { VAULT_TOKEN: rootToken };
    vault.cli(['kv', 'put', 'aurora/users/test-secret', 'value=hello'], env);
    assert.match(vault.cli(['kv', 'get', '-field=value', 'aurora/users/test-secret'], env), /^hello\s*$/);
    assert.match(vault.cli(['kv', 'list', 'aurora/users/'], env), /test-secret/);
  });

  test('restarts on the same data dir, sealed, with the data intact', async () => {
    await vault.restart();
    assert.equal((await client.health()).sealed, true);
  });
});

describe('a real PostgreSQL on a throwaway cluster', () => {
  let postgres: PostgresServer;
  before(async () => {
    postgres = await PostgresServer.start();
  });
  after(async () => {
    await postgres?.stop();
  });

  test('is never the default port, and answers a query through pg', async () => {
    assert.notEqual(postgres.port, 5432);
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    try {
      const res = await db.query<{ answer: number }>('SELECT 6 * 7 AS answer');
      assert.equal(res.rows[0]?.answer, 42);
    } finally {
      await db.end();
    }
  });
});
