// User story: as an operator I change a secret directly with `vault kv put`, and the app serves the new value
// within the cache TTL (CACHE_TTL_SECONDS), without a restart; changes made through the app are served at once;
// a burst of resolves of a cold credential costs Vault one read. With CACHE_TTL_SECONDS=0 values are never
// cached, yet the reference rows still are (REFERENCE_CACHE_TTL_SECONDS, its own setting), so a resolve costs
// Vault only; a delete or recreate through the app is still seen at once, never a stale reference.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { CredentialsStack, type HttpResult } from '@aurora/process';

const TTL_SECONDS = 4;

describe('the resolver cache: TTL, invalidation, single flight', () => {
  let stack: CredentialsStack;
  const resolve = async (user: string, type: string) => {
    const res = await stack.request('POST', `/users/${user}/credentials/${type}/resolve`, { auth: 'writer' });
    return res;
  };

  before(async () => {
    stack = await CredentialsStack.start({ env: { CACHE_TTL_SECONDS: String(TTL_SECONDS) } });
  });
  after(async () => {
    await stack?.stop();
  });

  test('a `vault kv put` made behind the app is served within the TTL', async () => {
    assert.equal(
      (
        await stack.request('PUT', '/users/dave/credentials/api', {
          auth: 'writer',
          body: { data: { key: 'canary-ttl-first-81d2' } },
        })
      ).status,
      201,
    );
    const filledAt = Date.now();
    assert.deepEqual(((await resolve('dave', 'api')).json as { data: unknown }).data, { key: 'canary-ttl-first-81d2' });
    stack.cli(['kv', 'put', 'aurora/users/dave/api', 'key=canary-ttl-second-37b0']);
    const changedAt = Date.now();
    // Still cached right after the change: the cache is really in use (unless this machine took the whole TTL).
    const cached = ((await resolve('dave', 'api')).json as { data: unknown }).data;
    if (Date.now() - filledAt < TTL_SECONDS * 1000 - 500) assert.deepEqual(cached, { key: 'canary-ttl-first-81d2' });
    let served: unknown;
    while (Date.now() - changedAt < (TTL_SECONDS + 2) * 1000) {
      served = ((await resolve('dave', 'api')).json as { data: unknown }).data;
      if ((served as { key: string }).key === 'canary-ttl-second-37b0') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const took = Date.now() - changedAt;
    assert.deepEqual(served, { key: 'canary-ttl-second-37b0' });
    assert.ok(took <= TTL_SECONDS * 1000 + 500, `served the new value after ${took} ms; TTL is ${TTL_SECONDS} s`);
  });

  test('a write through the app invalidates at once, well inside the TTL', async () => {
    assert.equal(((await resolve('dave', 'api')).json as { version: number }).version, 2);
    assert.equal(
      (
        await stack.request('PUT', '/users/dave/credentials/api', {
          auth: 'writer',
          body: { data: { key: 'canary-ttl-third-c4a9' } },
        })
      ).status,
      200,
    );
    const res = await resolve('dave', 'api');
    assert.deepEqual(res.json, {
      reference: 'vault:kv/data/aurora/users/dave/api',
      version: 3,
      data: { key: 'canary-ttl-third-c4a9' },
    });
  });

  test('concurrent resolves of a cold credential make one Vault read (the audit log counts them)', async () => {
    assert.equal(
      (
        await stack.request('PUT', '/users/erin/credentials/db', {
          auth: 'writer',
          body: { data: { password: 'canary-ttl-burst-55e1' } },
        })
      ).status,
      201,
    );
    const audit = stack.initDirs.auditFile;
    const offset = fs.statSync(audit).size;
    const answers = await Promise.all(Array.from({ length: 25 }, () => resolve('erin', 'db')));
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
    const reads = fs
      .readFileSync(audit, 'utf8')
      .slice(offset)
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; request?: { operation?: string; path?: string } })
      .filter(
        (e) =>
          e.type === 'request' && e.request?.operation === 'read' && e.request.path === 'aurora/data/users/erin/db',
      );
    assert.equal(reads.length, 1, `Vault saw ${reads.length} reads for 25 concurrent resolves`);
  });

  test('a delete through the app is seen at once: 404, not a cached value', async () => {
    assert.equal((await resolve('erin', 'db')).status, 200);
    assert.equal((await stack.request('DELETE', '/users/erin/credentials/db', { auth: 'writer' })).status, 204);
    assert.equal((await resolve('erin', 'db')).status, 404);
  });

  test('no value reached a log, a response or the database', () => {
    assert.deepEqual(
      stack.leaks([
        'canary-ttl-first-81d2',
        'canary-ttl-second-37b0',
        'canary-ttl-third-c4a9',
        'canary-ttl-burst-55e1',
      ]),
      [],
    );
  });
});

describe('CACHE_TTL_SECONDS=0: values uncached, reference rows still cached and invalidated by writes', () => {
  const REFERENCE_TTL_SECONDS = 60;
  let stack: CredentialsStack;
  const resolve = (user: string, type: string): Promise<HttpResult> =>
    stack.request('POST', `/users/${user}/credentials/${type}/resolve`, { auth: 'writer' });
  const put = async (user: string, type: string, data: Record<string, string>): Promise<number> =>
    (await stack.request('PUT', `/users/${user}/credentials/${type}`, { auth: 'writer', body: { data } })).status;
  const setReferenceRow = (user: string, type: string, reference: string) =>
    stack.postgres.psql(
      stack.postgres.database,
      `UPDATE credential_references SET reference = '${reference}' WHERE user_id = '${user}' AND credential_type = '${type}'`,
    );

  before(async () => {
    stack = await CredentialsStack.start({
      env: { CACHE_TTL_SECONDS: '0', REFERENCE_CACHE_TTL_SECONDS: String(REFERENCE_TTL_SECONDS) },
    });
  });
  after(async () => {
    await stack?.stop();
  });

  test('a `vault kv put` behind the app is served at once: values are not cached', async () => {
    assert.equal(await put('gina', 'api', { key: 'canary-ref-first-6c1e' }), 201);
    assert.deepEqual(((await resolve('gina', 'api')).json as { data: unknown }).data, { key: 'canary-ref-first-6c1e' });
    stack.cli(['kv', 'put', 'aurora/users/gina/api', 'key=canary-ref-second-0f7d']);
    const res = await resolve('gina', 'api');
    assert.deepEqual(res.json, {
      reference: 'vault:kv/data/aurora/users/gina/api',
      version: 2,
      data: { key: 'canary-ref-second-0f7d' },
    });
  });

  test('a resolve reads the reference from its cache, not PostgreSQL', async (t) => {
    const warmedAt = Date.now();
    assert.equal((await resolve('gina', 'api')).status, 200);
    // Changed behind the app, the row would now be refused (outside the mount): a 200 shows it was not read.
    await setReferenceRow('gina', 'api', 'vault:kv/data/elsewhere/users/gina/api');
    try {
      const res = await resolve('gina', 'api');
      const elapsed = Date.now() - warmedAt;
      // Past the TTL the cache may rightly have gone to PostgreSQL: nothing to check, and the report says so
      // instead of counting a pass (a timing assertion would fail a run that is merely slow).
      if (elapsed >= REFERENCE_TTL_SECONDS * 1000 - 1000) {
        t.skip(
          `not checked: ${elapsed} ms since the cache was warmed, within 1 s of its ${REFERENCE_TTL_SECONDS} s TTL`,
        );
        return;
      }
      assert.equal(res.status, 200, `resolve answered ${res.status}: ${res.text}`);
      assert.equal((res.json as { reference: string }).reference, 'vault:kv/data/aurora/users/gina/api');
    } finally {
      await setReferenceRow('gina', 'api', 'vault:kv/data/aurora/users/gina/api');
    }
  });

  test('a delete and a recreate through the app are seen at once: never a stale reference', async () => {
    assert.equal((await resolve('gina', 'api')).status, 200);
    assert.equal((await stack.request('DELETE', '/users/gina/credentials/api', { auth: 'writer' })).status, 204);
    const gone = await resolve('gina', 'api');
    assert.equal(gone.status, 404);
    assert.match(gone.text, /has no api credential/);
    assert.equal(await put('gina', 'api', { key: 'canary-ref-third-93aa' }), 201);
    const back = await resolve('gina', 'api');
    assert.equal(back.status, 200, back.text);
    assert.deepEqual((back.json as { data: unknown }).data, { key: 'canary-ref-third-93aa' });
    assert.equal((await stack.request('DELETE', '/users/gina/credentials/api', { auth: 'writer' })).status, 204);
    assert.equal((await resolve('gina', 'api')).status, 404);
  });

  test('a delete in PostgreSQL the app did not see (another replica, doctor) answers a plain 404', async () => {
    assert.equal(await put('gina', 'db', { password: 'canary-ref-fourth-2b57' }), 201);
    assert.equal((await resolve('gina', 'db')).status, 200);
    // Another replica deleting it: the row and every version in Vault go, this process's cache is not told.
    await stack.postgres.psql(
      stack.postgres.database,
      "DELETE FROM credential_references WHERE user_id = 'gina' AND credential_type = 'db'",
    );
    stack.cli(['kv', 'metadata', 'delete', 'aurora/users/gina/db']);
    const res = await resolve('gina', 'db');
    assert.equal(res.status, 404);
    assert.match(res.text, /user gina has no db credential/);
  });

  test('no value reached a log, a response or the database', () => {
    assert.deepEqual(
      stack.leaks([
        'canary-ref-first-6c1e',
        'canary-ref-second-0f7d',
        'canary-ref-third-93aa',
        'canary-ref-fourth-2b57',
      ]),
      [],
    );
  });
});
