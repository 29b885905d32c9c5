// User story: as an administrator I give each API client only what it needs: a client limited to some users
// gets 403 for anyone else's credentials, and a client without "resolve" can manage but never read values.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, CredentialsStack } from '@aurora/process';

describe('who may touch which credentials', () => {
  let stack: CredentialsStack;
  const value = 'canary-access-7f3e9a1c5b';

  before(async () => {
    stack = await CredentialsStack.start({
      clients: [
        { id: 'admin', permissions: { admin: true } },
        { id: 'alice-app', permissions: { credentials: ['read', 'write', 'delete', 'resolve'], users: ['alice'] } },
        { id: 'manager', permissions: { credentials: ['read', 'write', 'delete'], users: ['*'] } },
        { id: 'reader', permissions: { credentials: ['read'], users: ['*'] } },
        { id: 'patients-only' },
      ],
    });
    const put = await stack.request('PUT', '/users/bob/credentials/aws', {
      auth: 'admin',
      body: { data: { secret: value } },
    });
    assert.equal(put.status, 201, put.text);
  });
  after(async () => {
    await stack?.stop();
  });

  test('a client limited to alice gets 403 for bob, on every route, and nothing changes', async () => {
    const before = [await stack.vaultSnapshot(), await stack.rows()];
    for (const [method, url, body] of [
      ['GET', '/users/bob/credentials', undefined],
      ['GET', '/users/bob/credentials/aws', undefined],
      ['PUT', '/users/bob/credentials/aws', { data: { secret: 'overwrite' } }],
      ['PUT', '/users/bob/credentials/new', { data: { secret: 'x' } }],
      ['POST', '/users/bob/credentials/aws/resolve', undefined],
      ['DELETE', '/users/bob/credentials/aws', undefined],
    ] as const) {
      const res = await stack.request(method, url, { auth: 'alice-app', body });
      assert.equal(res.status, 403, `${method} ${url}: ${res.text}`);
      assert.match((res.json as { message: string }).message, /user bob/);
    }
    assert.deepEqual([await stack.vaultSnapshot(), await stack.rows()], before);
  });

  test('the same client works for alice', async () => {
    assert.equal(
      (
        await stack.request('PUT', '/users/alice/credentials/github', {
          auth: 'alice-app',
          body: { data: { token: 't' } },
        })
      ).status,
      201,
    );
    assert.equal(
      (await stack.request('POST', '/users/alice/credentials/github/resolve', { auth: 'alice-app' })).status,
      200,
    );
  });

  test('a client without "resolve" may write and list but gets 403 on resolve', async () => {
    assert.equal(
      (
        await stack.request('PUT', '/users/carol/credentials/slack', {
          auth: 'manager',
          body: { data: { token: 's' } },
        })
      ).status,
      201,
    );
    assert.equal((await stack.request('GET', '/users/carol/credentials', { auth: 'manager' })).status, 200);
    const res = await stack.request('POST', '/users/bob/credentials/aws/resolve', { auth: 'manager' });
    assert.equal(res.status, 403);
    assert.match((res.json as { message: string }).message, /resolve/);
    assert.ok(!res.text.includes(value));
  });

  test('a read-only client may list but not write, delete or resolve', async () => {
    assert.equal((await stack.request('GET', '/users/bob/credentials/aws', { auth: 'reader' })).status, 200);
    assert.equal(
      (await stack.request('PUT', '/users/bob/credentials/aws', { auth: 'reader', body: { data: { secret: 'x' } } }))
        .status,
      403,
    );
    assert.equal((await stack.request('DELETE', '/users/bob/credentials/aws', { auth: 'reader' })).status, 403);
    assert.equal((await stack.request('POST', '/users/bob/credentials/aws/resolve', { auth: 'reader' })).status, 403);
  });

  test('a client without credential permissions gets 403; no or wrong authentication gets 401', async () => {
    assert.equal((await stack.request('GET', '/users/bob/credentials', { auth: 'patients-only' })).status, 403);
    assert.equal((await stack.request('GET', '/users/bob/credentials')).status, 401);
    assert.equal(
      (await stack.request('POST', '/users/bob/credentials/aws/resolve', { auth: ['alice-app', 'wrong-secret'] }))
        .status,
      401,
    );
  });

  test('each resolve is audit-logged with client, user, type and reference, never the value', async () => {
    const res = await stack.request('POST', '/users/bob/credentials/aws/resolve', { auth: 'admin' });
    assert.equal(res.status, 200);
    // The app writes the audit line after the response has gone out (off the request's path): wait for it.
    const entry = await waitFor(
      'an audit line for admin resolving bob/aws',
      async () =>
        stack.app
          .log()
          .split('\n')
          .filter((l) => l.includes('"credential.resolve"'))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((e) => e.client_id === 'admin' && e.user_id === 'bob'),
      5000,
      20,
    );
    assert.equal(entry.credential_type, 'aws');
    assert.equal(entry.reference, 'vault:kv/data/aurora/users/bob/aws');
    assert.deepEqual(stack.leaks([value]), []);
  });
});
