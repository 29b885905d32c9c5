// User story: as an API client I store a user's credential, PostgreSQL keeps only its vault: reference,
// I resolve it at runtime, the operator sees the same data with `vault kv get`, and DELETE removes both.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { CredentialsStack } from '@aurora/process';

describe('credential round trip through the app, Vault and PostgreSQL', () => {
  let stack: CredentialsStack;
  const token = `ghp_${crypto.randomBytes(16).toString('hex')}`;
  const rotated = `ghp_${crypto.randomBytes(16).toString('hex')}`;
  const reference = 'vault:kv/data/aurora/users/alice/github';

  before(async () => {
    stack = await CredentialsStack.start();
  });
  after(async () => {
    await stack?.stop();
  });

  test('PUT stores the secret and answers 201 with the reference and metadata, never the data', async () => {
    const res = await stack.request('PUT', '/users/alice/credentials/github', {
      auth: 'writer',
      body: { data: { token, scope: 'repo' } },
    });
    assert.equal(res.status, 201, res.text);
    const body = res.json as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), [
      'created_at',
      'credential_type',
      'reference',
      'updated_at',
      'user_id',
      'version',
    ]);
    assert.equal(body.reference, reference);
    assert.equal(body.user_id, 'alice');
    assert.equal(body.credential_type, 'github');
    assert.equal(body.version, 1);
    assert.equal(res.headers.get('etag'), '"1"');
    assert.ok(!res.text.includes(token));
  });

  test('the row holds exactly the reference string and nothing else of the secret', async () => {
    assert.equal(
      await stack.postgres.psql(
        'aurora',
        "SELECT reference FROM credential_references WHERE user_id = 'alice' AND credential_type = 'github'",
      ),
      `${reference}\n`,
    );
    assert.deepEqual(
      (await stack.rows()).map((r) => r.split('|').slice(0, 4).join('|')),
      [`alice|github|${reference}|1`],
    );
  });

  test('resolve returns the data', async () => {
    const res = await stack.request('POST', '/users/alice/credentials/github/resolve', { auth: 'writer' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { reference, version: 1, data: { token, scope: 'repo' } });
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  test('`vault kv get aurora/users/alice/github` shows the same data', () => {
    const out = JSON.parse(stack.cli(['kv', 'get', '-format=json', 'aurora/users/alice/github'])) as {
      data: { data: Record<string, string> };
    };
    assert.deepEqual(out.data.data, { token, scope: 'repo' });
  });

  test('GET lists references and metadata only', async () => {
    const one = await stack.request('GET', '/users/alice/credentials/github', { auth: 'writer' });
    assert.equal(one.status, 200);
    assert.equal((one.json as { reference: string }).reference, reference);
    const list = await stack.request('GET', '/users/alice/credentials', { auth: 'writer' });
    assert.equal(list.status, 200);
    const body = list.json as { user_id: string; credentials: Array<{ reference: string }> };
    assert.equal(body.user_id, 'alice');
    assert.deepEqual(
      body.credentials.map((c) => c.reference),
      [reference],
    );
    for (const r of [one, list]) assert.ok(!r.text.includes(token));
    const nobody = await stack.request('GET', '/users/nobody/credentials', { auth: 'writer' });
    assert.deepEqual(nobody.json, { user_id: 'nobody', credentials: [] });
  });

  test('PUT again updates (200, version 2) and resolve serves the new value at once', async () => {
    const res = await stack.request('PUT', '/users/alice/credentials/github', {
      auth: 'writer',
      body: { data: { token: rotated } },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal((res.json as { version: number }).version, 2);
    const resolved = await stack.request('POST', '/users/alice/credentials/github/resolve', { auth: 'writer' });
    assert.deepEqual(resolved.json, { reference, version: 2, data: { token: rotated } });
  });

  test('If-Match is a check-and-set: a stale version is 409 and changes nothing; the current one writes', async () => {
    const stale = await stack.request('PUT', '/users/alice/credentials/github', {
      auth: 'writer',
      body: { data: { token: 'x-stale-write' } },
      headers: { 'if-match': '1' },
    });
    assert.equal(stale.status, 409, stale.text);
    assert.match((stale.json as { message: string }).message, /version/);
    const ok = await stack.request('PUT', '/users/alice/credentials/github', {
      auth: 'writer',
      body: { data: { token: rotated } },
      headers: { 'if-match': '"2"' },
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((ok.json as { version: number }).version, 3);
    const create = await stack.request('PUT', '/users/alice/credentials/github', {
      auth: 'writer',
      body: { data: { token: rotated } },
      headers: { 'if-match': '0' },
    });
    assert.equal(create.status, 409, 'If-Match: 0 means "only if absent"');
    const fresh = await stack.request('PUT', '/users/bob/credentials/aws', {
      auth: 'writer',
      body: { data: { key: 'AKIA-not-secret' } },
      headers: { 'if-match': '0' },
    });
    assert.equal(fresh.status, 201, fresh.text);
    const absent = await stack.request('PUT', '/users/bob/credentials/gcp', {
      auth: 'writer',
      body: { data: { key: 'k' } },
      headers: { 'if-match': '4' },
    });
    assert.equal(absent.status, 409);
    assert.deepEqual(await stack.vaultSnapshot(), { 'users/alice/github': 3, 'users/bob/aws': 1 });
  });

  test('DELETE removes the row and every version in Vault', async () => {
    const res = await stack.request('DELETE', '/users/alice/credentials/github', { auth: 'writer' });
    assert.equal(res.status, 204, res.text);
    assert.equal(
      await stack.postgres.psql('aurora', "SELECT count(*) FROM credential_references WHERE user_id = 'alice'"),
      '0\n',
    );
    assert.throws(() => stack.cli(['kv', 'metadata', 'get', 'aurora/users/alice/github']), /No value found/);
    const gone = await stack.request('POST', '/users/alice/credentials/github/resolve', { auth: 'writer' });
    assert.equal(gone.status, 404);
    assert.equal((await stack.request('GET', '/users/alice/credentials/github', { auth: 'writer' })).status, 404);
    assert.equal((await stack.request('DELETE', '/users/alice/credentials/github', { auth: 'writer' })).status, 404);
    await stack.request('DELETE', '/users/bob/credentials/aws', { auth: 'writer' });
    assert.deepEqual(await stack.vaultSnapshot(), {});
    assert.deepEqual(await stack.rows(), []);
  });

  test('doctor finds nothing to repair, and no value reached a log, a response or the database', () => {
    const doctor = stack.app.doctor(['--json']);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    const report = JSON.parse(doctor.stdout) as { dangling: number; orphans: number; remaining: number };
    assert.deepEqual([report.dangling, report.orphans, report.remaining], [0, 0, 0]);
    assert.deepEqual(stack.leaks([token, rotated]), []);
  });
});
