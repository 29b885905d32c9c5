// User story: as an operator I change a secret directly with `vault kv put`, and the app serves the new value
// within the cache TTL, without a restart; changes made through the app are served at once; a burst of
// resolves of a cold credential costs Vault one read.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { CredentialsStack } from '../harness/stack.js';

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
