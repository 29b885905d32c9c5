// User story: the app reuses an authenticated Client's resource for CLIENT_CACHE_TTL_SECONDS instead of reading
// PostgreSQL on every request, yet on the instance that made the change a Client whose permissions were changed
// answers with its new permissions at once, and a deleted Client is refused at once, even with requests of it in
// flight while it is deleted. A rotated file secret is seen as without the cache (the cache never holds values).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { waitFor } from '@aurora/process';
import { ClientsStack, userClient } from '../support/clients-app.js';

describe('changes to a Client take effect at once on the instance that made them', () => {
  let stack: ClientsStack;
  const value = `basic-${crypto.randomBytes(16).toString('hex')}`;
  before(async () => {
    // A long TTL: anything seen here within it comes from the invalidation, not from expiry.
    stack = await ClientsStack.start({ env: { CLIENT_CACHE_TTL_SECONDS: '60' } });
    fs.writeFileSync(stack.secretFile('client-secret'), value, { mode: 0o600 });
  });
  after(async () => {
    await stack?.stop();
  });

  const put = async (permissions?: Record<string, unknown>) => {
    const res = await stack.request('PUT', '/fhir/Client/basic', {
      auth: stack.admin(),
      body: { ...userClient('basic', 'client-secret'), ...(permissions ? { permissions } : {}) },
    });
    assert.ok(res.status === 200 || res.status === 201, `PUT /fhir/Client/basic: ${res.status} ${res.text}`);
  };
  const listClients = async (secret = value) =>
    (await stack.request('GET', '/fhir/Client', { auth: ['basic', secret] })).status;

  test('changed permissions apply to the very next request', async () => {
    await put();
    assert.equal(await listClients(), 403, 'not an admin yet (and now cached)');
    await put({ admin: true });
    assert.equal(await listClients(), 200, 'made admin: the next request may list Clients');
    await put();
    assert.equal(await listClients(), 403, 'demoted: refused at once');
  });

  test('a rotated file secret works at once and the old one stops working', async () => {
    await put();
    assert.equal(await listClients(), 403);
    const rotated = `rotated-${crypto.randomBytes(16).toString('hex')}`;
    const file = stack.secretFile('client-secret');
    fs.writeFileSync(`${file}.new`, rotated, { mode: 0o600 });
    fs.renameSync(`${file}.new`, file);
    await waitFor(
      'the rotated secret to be accepted',
      async () => ((await listClients(rotated)) === 403 ? true : undefined),
      20_000,
      50,
    );
    assert.equal(await listClients(value), 401, 'the old secret is refused');
    fs.writeFileSync(`${file}.new`, value, { mode: 0o600 });
    fs.renameSync(`${file}.new`, file);
    await waitFor(
      'the first secret to be accepted again',
      async () => ((await listClients(value)) === 403 ? true : undefined),
      20_000,
      50,
    );
  });

  test('a deleted Client is refused from the moment the delete answers, with its requests in flight', async () => {
    await put();
    assert.equal((await stack.request('GET', '/fhir/Patient', { auth: ['basic', value] })).status, 200);
    // Requests of the Client keep going while it is deleted; every one that starts after the delete answered
    // must be refused.
    let deletedAt = Number.POSITIVE_INFINITY;
    let stop = false;
    const lateAccepted: number[] = [];
    let late = 0;
    const loaders = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const started = performance.now();
        const res = await stack.request('GET', '/fhir/Patient', { auth: ['basic', value] });
        if (started > deletedAt) {
          late++;
          if (res.status !== 401) lateAccepted.push(res.status);
        }
      }
    });
    await new Promise((r) => setImmediate(r));
    const del = await stack.request('DELETE', '/fhir/Client/basic', { auth: stack.admin() });
    deletedAt = performance.now();
    assert.equal(del.status, 204);
    const res = await stack.request('GET', '/fhir/Patient', { auth: ['basic', value] });
    assert.equal(res.status, 401, 'the next request is refused');
    await waitFor('20 requests started after the delete', async () => (late >= 20 ? true : undefined), 20_000, 10);
    stop = true;
    await Promise.all(loaders);
    assert.deepEqual(lateAccepted, [], 'no request started after the delete answered was accepted');
  });
});
