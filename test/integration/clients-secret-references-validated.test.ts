// User story: a Client never holds a secret value. A plain `secret` is refused with 422 (decided: reject, not
// move it into Vault); a reference to an unknown name, or to a file secret whose scope does not include this
// Client, is refused with 422 naming the problem (and the scope); a vault:kv/data/... reference works. A vault:
// reference the app cannot read now (no secret there, no such key, a path outside the app's policy) is refused
// with 422 naming the path and the `vault kv put` that creates it, as the walkthroughs put the secret in Vault
// before the Client; a file secret may still be missing (the agent renders it later).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ClientsStack, defaultSecretsConfig, userClient } from '../support/clients-app.js';
import { waitFor } from '@aurora/process';

/** /fhir refusals are OperationOutcomes: the message is the first issue's diagnostics. */
function diagnostics(res: { json: unknown }): string {
  return String((res.json as { issue?: Array<{ diagnostics?: string }> }).issue?.[0]?.diagnostics);
}

describe('Client secret references are checked when stored', () => {
  let stack: ClientsStack;
  const plain = `plain-${crypto.randomBytes(12).toString('hex')}`;
  const vaultValue = `vault-${crypto.randomBytes(12).toString('hex')}`;
  before(async () => {
    stack = await ClientsStack.start({
      secretsConfig: (dir) => {
        const base = defaultSecretsConfig(dir) as { secret: Record<string, unknown> };
        base.secret['patients-only'] = { path: path.join(dir, 'patients-only'), scope: { resource_type: 'Patient' } };
        return base;
      },
    });
  });
  after(async () => {
    await stack?.stop();
  });

  test('a plain secret value is rejected with 422, and never echoed', async () => {
    const res = await stack.request('PUT', '/fhir/Client/basic', {
      auth: stack.admin(),
      body: { resourceType: 'Client', id: 'basic', secret: plain, grant_types: ['basic'] },
    });
    assert.equal(res.status, 422);
    assert.match(diagnostics(res), /secret: a plain secret value is never stored/);
    assert.ok(!res.text.includes(plain));
    assert.equal(
      (await stack.request('GET', '/fhir/Client/basic', { auth: stack.admin() })).status,
      404,
      'nothing was stored',
    );
  });

  test('an unknown secret name is 422, naming the known ones', async () => {
    const res = await stack.request('PUT', '/fhir/Client/basic', {
      auth: stack.admin(),
      body: userClient('basic', 'no-such-secret'),
    });
    assert.equal(res.status, 422);
    assert.match(diagnostics(res), /unknown secret name "no-such-secret".*client-secret/);
  });

  test('a secret scoped to another Client is 422 naming the scope', async () => {
    const res = await stack.request('PUT', '/fhir/Client/other', {
      auth: stack.admin(),
      body: userClient('other', 'client-secret'),
    });
    assert.equal(res.status, 422);
    assert.match(diagnostics(res), /secret client-secret is scoped to Client\/basic; Client\/other may not use it/);
    const wrongType = await stack.request('PUT', '/fhir/Client/basic', {
      auth: stack.admin(),
      body: userClient('basic', 'patients-only'),
    });
    assert.equal(wrongType.status, 422);
    assert.match(diagnostics(wrongType), /scoped to Patient\/\*/);
  });

  test('malformed documents are 400 naming the field', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ resourceType: 'Patient', id: 'basic' }, /resourceType: must be "Client"/],
      [{ resourceType: 'Client', id: 'other' }, /id: must be present and equal the id in the URL/],
      [{ resourceType: 'Client', id: 'basic', _secret: { extension: [] } }, /_secret\.extension: needs an extension/],
      [{ resourceType: 'Client', id: 'basic', _secret: 'x' }, /_secret: must be/],
    ];
    for (const [body, message] of cases) {
      const res = await stack.request('PUT', '/fhir/Client/basic', { auth: stack.admin(), body });
      assert.equal(res.status, 400, res.text);
      assert.match(diagnostics(res), message);
    }
    const perms = await stack.request('PUT', '/fhir/Client/basic', {
      auth: stack.admin(),
      body: { ...userClient('basic', 'client-secret'), permissions: { root: true } },
    });
    assert.equal(perms.status, 422);
    assert.match(diagnostics(perms), /permissions\.root: unknown permission/);
  });

  test('a vault:kv/data reference: the Client authenticates with the value in Vault', async () => {
    const root = stack.operator();
    await root.kvWrite('secret', 'clients/svc', { 'client-secret': vaultValue });
    const client = userClient('svc', 'vault:kv/data/secret/clients/svc');
    const put = await stack.request('PUT', '/fhir/Client/svc', { auth: stack.admin(), body: client });
    assert.equal(put.status, 201, put.text);
    assert.deepEqual((await stack.request('GET', '/fhir/Client/svc', { auth: stack.admin() })).json, client);
    assert.equal((await stack.request('GET', '/fhir/Patient', { auth: ['svc', vaultValue] })).status, 200);
    assert.equal((await stack.request('GET', '/fhir/Patient', { auth: ['svc', 'nope'] })).status, 401);
    // Rotated in Vault: the new value works within AUTH_VAULT_REREAD_SECONDS (2 s): a mismatch reads Vault
    // again before refusing, at most once per interval (the 'nope' above just used this one).
    const rotated = `${vaultValue}-2`;
    await root.kvWrite('secret', 'clients/svc', { 'client-secret': rotated });
    const rotatedAt = Date.now();
    await waitFor(
      'the rotated value to be accepted',
      async () =>
        (await stack.request('GET', '/fhir/Patient', { auth: ['svc', rotated] })).status === 200 ? true : undefined,
      10_000,
      200,
    );
    assert.ok(Date.now() - rotatedAt < 5000, `accepted after ${Date.now() - rotatedAt} ms`);
    const credMount = await stack.request('PUT', '/fhir/Client/svc', {
      auth: stack.admin(),
      body: userClient('svc', 'vault:kv/data/aurora/users/alice/github'),
    });
    assert.equal(credMount.status, 422);
    assert.match(diagnostics(credMount), /holds users' credentials/);
    assert.deepEqual(stack.leaks([plain, vaultValue, rotated, stack.adminSecret]), []);
  });

  test('a vault: reference to a secret that does not exist is 422 naming the path and the kv put; nothing stored', async () => {
    const ghost = await stack.request('PUT', '/fhir/Client/ghost', {
      auth: stack.admin(),
      body: userClient('ghost', 'vault:kv/data/secret/clients/ghost'),
    });
    assert.equal(ghost.status, 422, ghost.text);
    assert.equal((ghost.json as { resourceType?: string }).resourceType, 'OperationOutcome');
    assert.match(
      diagnostics(ghost),
      /^_secret: vault:kv\/data\/secret\/clients\/ghost: Vault holds no secret at secret\/clients\/ghost .*\(docker exec vault vault kv put secret\/clients\/ghost client-secret=<value>\), then PUT the Client again$/,
    );
    assert.equal((await stack.request('GET', '/fhir/Client/ghost', { auth: stack.admin() })).status, 404);

    const keyed = await stack.request('PUT', '/fhir/Client/ghost', {
      auth: stack.admin(),
      body: userClient('ghost', 'vault:kv/data/secret/clients/svc#token'),
    });
    assert.equal(keyed.status, 422, keyed.text);
    assert.match(
      diagnostics(keyed),
      /no non-empty key "token" at secret\/clients\/svc.*kv put secret\/clients\/svc token=<value>/,
    );

    const outside = await stack.request('PUT', '/fhir/Client/ghost', {
      auth: stack.admin(),
      body: userClient('ghost', 'vault:kv/data/elsewhere/clients/ghost'),
    });
    assert.equal(outside.status, 422, outside.text);
    assert.match(diagnostics(outside), /policy does not allow reading elsewhere\/clients\/ghost/);

    // Following the message: put the secret, PUT the same Client again.
    const value = `ghost-${crypto.randomBytes(12).toString('hex')}`;
    await stack.operator().kvWrite('secret', 'clients/ghost', { 'client-secret': value });
    const again = await stack.request('PUT', '/fhir/Client/ghost', {
      auth: stack.admin(),
      body: userClient('ghost', 'vault:kv/data/secret/clients/ghost'),
    });
    assert.equal(again.status, 201, again.text);
    assert.equal((await stack.request('GET', '/fhir/Patient', { auth: ['ghost', value] })).status, 200);
    assert.deepEqual(stack.leaks([value]), []);
  });

  test('the secret file of a Client being stored need not exist yet', async () => {
    assert.ok(!fs.existsSync(stack.secretFile('client-secret')));
    assert.equal(
      (
        await stack.request('PUT', '/fhir/Client/basic', {
          auth: stack.admin(),
          body: userClient('basic', 'client-secret'),
        })
      ).status,
      201,
    );
  });
});
