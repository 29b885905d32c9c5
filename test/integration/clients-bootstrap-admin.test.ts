// User story: right after start there is an admin Client whose secret nobody copied by hand: vault-init
// generated it into Vault (secret/aurora/admin#client-secret), the agent rendered it to admin-secret, and the
// app created Client/admin pointing at it, with permissions.admin. A restart keeps (never duplicates or
// overwrites) it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientsStack } from '../support/clients-app.js';

/** /fhir refusals are OperationOutcomes: the message is the first issue's diagnostics. */
function diagnostics(res: { json: unknown }): string {
  return String((res.json as { issue?: Array<{ diagnostics?: string }> }).issue?.[0]?.diagnostics);
}

describe('the bootstrap admin Client', () => {
  let stack: ClientsStack;
  before(async () => {
    stack = await ClientsStack.start({ agent: { renderInterval: '1s' } });
  });
  after(async () => {
    await stack?.stop();
  });

  test('exists after start and authenticates with the secret the agent rendered', async () => {
    // What an operator would run: docker exec vault vault kv get -field=client-secret secret/aurora/admin
    const secret = stack.cli(['kv', 'get', '-field=client-secret', 'secret/aurora/admin']).trim();
    const res = await stack.request('GET', '/fhir/Client/admin', { auth: ['admin', secret] });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, {
      resourceType: 'Client',
      id: 'admin',
      grant_types: ['basic'],
      _secret: {
        extension: [
          { url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'masked' },
          { url: 'http://health-samurai.io/fhir/secret-reference', valueString: 'admin-secret' },
        ],
      },
      permissions: { admin: true },
    });
    assert.match(stack.log(), /created the bootstrap admin Client/);
  });

  test('it cannot be demoted (nothing would restore it)', async () => {
    const current = (await stack.request('GET', '/fhir/Client/admin', { auth: stack.admin() })).json as Record<
      string,
      unknown
    >;
    const res = await stack.request('PUT', '/fhir/Client/admin', {
      auth: stack.admin(),
      body: { ...current, permissions: { admin: false } },
    });
    assert.equal(res.status, 422);
    assert.match(diagnostics(res), /bootstrap admin/);
  });

  test('a restart keeps it as the admin left it', async () => {
    const changed = {
      ...((await stack.request('GET', '/fhir/Client/admin', { auth: stack.admin() })).json as object),
      name: 'ops',
    };
    assert.equal(
      (await stack.request('PUT', '/fhir/Client/admin', { auth: stack.admin(), body: changed })).status,
      200,
    );
    await stack.stopApp();
    await stack.startApp();
    assert.deepEqual((await stack.request('GET', '/fhir/Client/admin', { auth: stack.admin() })).json, changed);
    assert.match(stack.log(), /bootstrap admin Client already exists/);
    assert.deepEqual(stack.leaks([stack.adminSecret]), []);
  });
});
