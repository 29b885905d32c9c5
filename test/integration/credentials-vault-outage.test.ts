// User story: as an API client, when Vault is stopped I get 503 with Retry-After (never a 500 or a hang);
// when it is back and vault-init has unsealed it, the same app process serves me again, no restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialsStack } from '@aurora/process';

describe('Vault stopped, restarted sealed, unsealed: 503 with Retry-After, then recovery without an app restart', () => {
  let stack: CredentialsStack;
  let appPid: number | undefined;
  const resolve = () => stack.request('POST', '/users/judy/credentials/api/resolve', { auth: 'writer' });
  const assert503 = (res: { status: number; headers: Headers; json: unknown; text: string }, code: RegExp) => {
    assert.equal(res.status, 503, res.text);
    assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
    assert.match(String((res.json as { error: string }).error), code);
    assert.doesNotMatch(res.text, /\bat \w+ \(|node_modules/, 'no stack trace in the answer');
  };

  before(async () => {
    // TTL 0: every resolve reaches Vault.
    stack = await CredentialsStack.start({ env: { CACHE_TTL_SECONDS: '0', VAULT_TIMEOUT_MS: '1000' } });
    appPid = stack.app.pid;
    assert.equal(
      (
        await stack.request('PUT', '/users/judy/credentials/api', {
          auth: 'writer',
          body: { data: { key: 'canary-outage-4b1e' } },
        })
      ).status,
      201,
    );
    assert.equal((await resolve()).status, 200);
  });
  after(async () => {
    await stack?.stop();
  });

  test('Vault stopped: resolve, write and delete answer 503 + Retry-After; metadata still answers', async () => {
    await stack.vault.stop();
    const started = Date.now();
    assert503(await resolve(), /^vault_unreachable$/);
    assert503(
      await stack.request('PUT', '/users/judy/credentials/api', {
        auth: 'writer',
        body: { data: { key: 'canary-outage-lost' } },
      }),
      /^vault_unreachable$/,
    );
    assert503(
      await stack.request('PUT', '/users/judy/credentials/other', {
        auth: 'writer',
        body: { data: { key: 'canary-outage-lost' } },
      }),
      /^vault_unreachable$/,
    );
    assert503(await stack.request('DELETE', '/users/judy/credentials/api', { auth: 'writer' }), /^vault_unreachable$/);
    assert.ok(Date.now() - started < 10_000, 'answers come quickly, not after long hangs');
    // The references live in PostgreSQL: listing them does not need Vault.
    const list = await stack.request('GET', '/users/judy/credentials', { auth: 'writer' });
    assert.equal(list.status, 200);
    assert.deepEqual(
      (list.json as { credentials: Array<{ credential_type: string; version: number }> }).credentials.map((c) => [
        c.credential_type,
        c.version,
      ]),
      [['api', 1]],
    );
    const ready = await fetch(`${stack.app.url}/readyz`);
    assert.equal(ready.status, 503);
  });

  test('Vault restarted but sealed: 503 vault_sealed + Retry-After', async () => {
    await stack.vault.startProcess();
    assert503(await resolve(), /^vault_sealed$/);
  });

  test('unsealed by vault-init: the same app process serves again, and nothing was half-written', async () => {
    await stack.runVaultInit();
    const res = await resolve();
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((res.json as { data: unknown }).data, { key: 'canary-outage-4b1e' });
    const put = await stack.request('PUT', '/users/judy/credentials/api', {
      auth: 'writer',
      body: { data: { key: 'canary-outage-after' } },
    });
    assert.equal(put.status, 200, put.text);
    assert.equal(stack.app.pid, appPid);
    assert.ok(stack.app.running);
    await stack.app.waitReady(5000);
    assert.deepEqual(await stack.vaultSnapshot(), { 'users/judy/api': 2 });
    const doctor = stack.app.doctor(['--json']);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
  });

  test('no value reached a log, a response or the database', () => {
    assert.deepEqual(stack.leaks(['canary-outage-4b1e', 'canary-outage-lost', 'canary-outage-after']), []);
  });
});
