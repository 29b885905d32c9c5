// User story: an admin stores the user's Client JSON (from the Aidbox docs) and gets it back unchanged; the
// Client authenticates with a file secret; the secret's value appears in no response, no log line and no
// PostgreSQL row (canary scan of every response, the app log and a pg_dump).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ClientsStack, userClient } from '../support/clients-app.js';

describe('Client JSON round-trips unchanged, and no secret leaks', () => {
  let stack: ClientsStack;
  const canary = `canary-${crypto.randomBytes(16).toString('hex')}`;
  before(async () => {
    stack = await ClientsStack.start();
    fs.writeFileSync(stack.secretFile('client-secret'), canary, { mode: 0o600 });
  });
  after(async () => {
    await stack?.stop();
  });

  test("PUT the user's Client, GET it back byte for byte", async () => {
    const client = userClient('basic', 'client-secret');
    const put = await stack.request('PUT', '/fhir/Client/basic', { auth: stack.admin(), body: client });
    assert.equal(put.status, 201, put.text);
    assert.equal(put.text, JSON.stringify(client));
    const get = await stack.request('GET', '/fhir/Client/basic', { auth: stack.admin() });
    assert.equal(get.status, 200);
    assert.equal(get.text, JSON.stringify(client), 'same keys, same order, same values');
    assert.match(get.headers.get('content-type') ?? '', /application\/fhir\+json/);
    const again = await stack.request('PUT', '/fhir/Client/basic', { auth: stack.admin(), body: client });
    assert.equal(again.status, 200, 'an update answers 200');
  });

  test('the Client authenticates with the file secret and reads Patients (a Bundle searchset)', async () => {
    const patient = { resourceType: 'Patient', id: 'pt-1', name: [{ family: 'Doe', given: ['Jane'] }] };
    assert.equal(
      (await stack.request('PUT', '/fhir/Patient/pt-1', { auth: ['basic', canary], body: patient })).status,
      201,
    );
    const list = await stack.request('GET', '/fhir/Patient', { auth: ['basic', canary] });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json, {
      resourceType: 'Bundle',
      type: 'searchset',
      total: 1,
      entry: [{ resource: patient, search: { mode: 'match' } }],
    });
    assert.deepEqual((await stack.request('GET', '/fhir/Patient/pt-1', { auth: ['basic', canary] })).json, patient);
    assert.equal((await stack.request('GET', '/fhir/Patient/nobody', { auth: ['basic', canary] })).status, 404);
  });

  test('a Client without admin permission may read itself but not manage Clients', async () => {
    assert.equal((await stack.request('GET', '/fhir/Client/basic', { auth: ['basic', canary] })).status, 200);
    assert.equal((await stack.request('GET', '/fhir/Client/admin', { auth: ['basic', canary] })).status, 403);
    assert.equal((await stack.request('GET', '/fhir/Client', { auth: ['basic', canary] })).status, 403);
    assert.equal(
      (
        await stack.request('PUT', '/fhir/Client/basic', {
          auth: ['basic', canary],
          body: userClient('basic', 'client-secret'),
        })
      ).status,
      403,
    );
  });

  test('GET /fhir/Client lists Clients as a Bundle; DELETE removes one', async () => {
    const list = await stack.request('GET', '/fhir/Client', { auth: stack.admin() });
    assert.equal(list.status, 200);
    const bundle = list.json as { type: string; total: number; entry: Array<{ resource: { id: string } }> };
    assert.equal(bundle.type, 'searchset');
    assert.deepEqual(
      bundle.entry.map((e) => e.resource.id),
      ['admin', 'basic'],
    );
    assert.equal((await stack.request('DELETE', '/fhir/Client/basic', { auth: stack.admin() })).status, 204);
    assert.equal((await stack.request('GET', '/fhir/Client/basic', { auth: stack.admin() })).status, 404);
    assert.equal(
      (await stack.request('GET', '/fhir/Patient', { auth: ['basic', canary] })).status,
      401,
      'a deleted Client cannot authenticate',
    );
    assert.equal((await stack.request('DELETE', '/fhir/Client/basic', { auth: stack.admin() })).status, 404);
  });

  test('canary scan: no secret value in responses, the app log or PostgreSQL', async () => {
    // A wrong guess and a right one, so that both paths have logged something.
    await stack.request('PUT', '/fhir/Client/basic', {
      auth: stack.admin(),
      body: userClient('basic', 'client-secret'),
    });
    await stack.request('GET', '/fhir/Patient', { auth: ['basic', `${canary}-wrong`] });
    assert.equal((await stack.request('GET', '/fhir/Patient', { auth: ['basic', canary] })).status, 200);
    assert.ok(stack.log().includes('authentication failed'), 'the failure was logged');
    assert.deepEqual(stack.leaks([canary, stack.adminSecret]), []);
  });
});
