// User story: the app starts although a secret file is not there yet (the agent has not rendered it, the
// user has not put the secret into Vault). Using it is an error logged with the secret's name, never a value;
// once the file appears it is used, without a restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ClientsStack, userClient } from '../support/clients-app.js';

describe('a secret file missing at start', () => {
  let stack: ClientsStack;
  const value = `late-${crypto.randomBytes(12).toString('hex')}`;
  before(async () => {
    stack = await ClientsStack.start();
  });
  after(async () => {
    await stack?.stop();
  });

  test('the app is up and says which secret is missing', async () => {
    assert.equal((await stack.request('GET', '/healthz')).status, 200);
    assert.match(stack.log(), /file secret not readable yet.*"ref":"client-secret"/);
  });

  test('using it: 401 for the caller, an error naming the secret in the log', async () => {
    assert.equal(
      (
        await stack.request('PUT', '/fhir/Client/basic', {
          auth: stack.admin(),
          body: userClient('basic', 'client-secret'),
        })
      ).status,
      201,
    );
    const res = await stack.request('GET', '/fhir/Patient', { auth: ['basic', value] });
    assert.equal(res.status, 401);
    const line = stack
      .log()
      .split('\n')
      .find((l) => l.includes('file secret unavailable'));
    assert.ok(line, 'logged');
    assert.match(line, /"ref":"client-secret"/);
    assert.match(line, /"code":"ENOENT"/);
  });

  test('an empty file, or a template\'s "<no value>", is never a password', async () => {
    for (const content of ['', '\n', '<no value>']) {
      fs.writeFileSync(stack.secretFile('client-secret'), content, { mode: 0o600 });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(
        (await stack.request('GET', '/fhir/Patient', { auth: ['basic', content.trim()] })).status,
        401,
        JSON.stringify(content),
      );
    }
    assert.match(stack.log(), /"code":"NO_VALUE"/);
    assert.match(stack.log(), /"code":"EMPTY"/);
    fs.rmSync(stack.secretFile('client-secret'));
  });

  test('the file appears: accepted within 1 s, same process', async () => {
    const pid = stack.appPid;
    fs.writeFileSync(stack.secretFile('client-secret'), value, { mode: 0o400 });
    const started = Date.now();
    while ((await stack.request('GET', '/fhir/Patient', { auth: ['basic', value] })).status !== 200) {
      assert.ok(Date.now() - started < 1000, 'accepted within 1 s');
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(stack.appPid, pid);
    assert.deepEqual(stack.leaks([value, stack.adminSecret]), []);
  });
});
