// User story: every route but health needs HTTP Basic client_id:secret. Right secret 200; wrong secret,
// unknown client and a secret out of scope all answer the same 401 with WWW-Authenticate (the log says which,
// and for the scope case names the scope, never a value); a secret over 1024 characters is refused before it is
// compared; many different wrong secrets answer 429 for new ones, while the Client's own secret keeps working.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ClientsStack, defaultSecretsConfig, userClient } from '../support/clients-app.js';

describe('Basic authentication of Clients', () => {
  let stack: ClientsStack;
  const value = `basic-${crypto.randomBytes(16).toString('hex')}`;
  before(async () => {
    // First, client-secret may serve any Client: Client/other can be stored with it (see the scope story).
    stack = await ClientsStack.start({
      secretsConfig: (dir) => ({
        secret: {
          ...(defaultSecretsConfig(dir) as { secret: object }).secret,
          'client-secret': { path: path.join(dir, 'client-secret'), scope: { resource_type: 'Client' } },
        },
      }),
    });
    fs.writeFileSync(stack.secretFile('client-secret'), `${value}\n`, { mode: 0o600 });
    for (const id of ['basic', 'other']) {
      assert.equal(
        (
          await stack.request('PUT', `/fhir/Client/${id}`, {
            auth: stack.admin(),
            body: userClient(id, 'client-secret'),
          })
        ).status,
        201,
      );
    }
  });
  after(async () => {
    await stack?.stop();
  });

  test('health needs no auth; everything else does', async () => {
    assert.equal((await stack.request('GET', '/healthz')).status, 200);
    const res = await stack.request('GET', '/fhir/Patient');
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="aurora"/);
    assert.equal((await stack.request('GET', '/no/such/route')).status, 401, 'unknown routes are not revealed either');
  });

  test('right secret 200 (a trailing newline in the file is not part of it)', async () => {
    assert.equal((await stack.request('GET', '/fhir/Patient', { auth: ['basic', value] })).status, 200);
  });

  test('wrong secret and unknown client: the same 401', async () => {
    const wrong = await stack.request('GET', '/fhir/Patient', { auth: ['basic', 'wrong-password'] });
    const unknown = await stack.request('GET', '/fhir/Patient', { auth: ['nobody', value] });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.equal(wrong.text, unknown.text);
    assert.equal(wrong.headers.get('www-authenticate'), unknown.headers.get('www-authenticate'));
    assert.match(stack.log(), /"reason":"wrong secret"/);
    assert.match(stack.log(), /"reason":"unknown client"/);
  });

  test('a secret over 1024 characters: 401 saying so, without being compared, and the right one still works', async () => {
    // Combining marks: the input whose normalization costs the most; refused before it is normalized.
    for (const secret of ['x'.repeat(1025), '\u0301\u0323'.repeat(3000)]) {
      const res = await stack.request('GET', '/fhir/Patient', { auth: ['basic', secret] });
      assert.equal(res.status, 401);
      assert.match(res.text, /a secret is at most 1024 characters/);
      assert.ok(!stack.log().includes(secret.slice(0, 64)), 'the secret is not logged');
    }
    assert.match(stack.log(), /"reason":"secret longer than 1024 characters"/);
    assert.equal((await stack.request('GET', '/fhir/Patient', { auth: ['basic', value] })).status, 200);
  });

  test('a secret out of scope: 401, and a warning naming the scope', async () => {
    // The operator narrows the scope to Client/basic and restarts the app; Client/other still names it.
    fs.writeFileSync(stack.configFile, JSON.stringify(defaultSecretsConfig(stack.secretsDir)));
    await stack.stopApp();
    await stack.startApp();
    assert.equal((await stack.request('GET', '/fhir/Patient', { auth: ['basic', value] })).status, 200);
    const res = await stack.request('GET', '/fhir/Patient', { auth: ['other', value] });
    assert.equal(res.status, 401);
    const warning = stack
      .log()
      .split('\n')
      .find((l) => l.includes('"client_id":"other"') && l.includes('secret out of scope'));
    assert.ok(warning, 'a warning for Client/other');
    assert.match(warning, /"level":"warn"/);
    assert.match(warning, /scoped to Client\/basic/);
    assert.match(warning, /"scope":"Client\/basic"/);
    assert.ok(!warning.includes(value));
  });

  test('many different wrong secrets: new ones answer 429 with Retry-After; the right secret still works', async () => {
    await stack.stopApp();
    await stack.startApp({ AUTH_MAX_FAILURES: '3', AUTH_FAILURE_WINDOW_SECONDS: '60' });
    assert.equal((await stack.request('GET', '/fhir/Patient', { auth: ['basic', value] })).status, 200);
    for (let i = 0; i < 3; i++)
      assert.equal((await stack.request('GET', '/fhir/Patient', { auth: ['basic', `guess-${i}`] })).status, 401);
    const blocked = await stack.request('GET', '/fhir/Patient', { auth: ['basic', 'guess-new'] });
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
    assert.equal((await stack.request('GET', '/fhir/Patient', { auth: ['basic', 'guess-0'] })).status, 401);
    assert.equal((await stack.request('GET', '/fhir/Patient', { auth: ['basic', value] })).status, 200);
    assert.equal((await stack.request('GET', '/healthz')).status, 200, 'health stays reachable');
    assert.match(stack.log(), /too many different wrong secrets/);
    assert.deepEqual(stack.leaks([value, stack.adminSecret]), []);
  });
});
