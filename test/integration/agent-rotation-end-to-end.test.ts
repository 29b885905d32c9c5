// User story (the walkthrough, with the real `vault agent`): the agent renders each listed secret to its own
// 0400 file; `vault kv put secret/aidbox/client client-secret=...` → the agent re-renders → the new secret is
// accepted and the old one refused, without restarting the app. A secret that does not exist yet when the
// agent starts does not stop it. The agent runs the committed vault/agent/agent.hcl (container paths pointed
// at temp dirs, the address from VAULT_ADDR), so this is the config compose uses.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ClientsStack, userClient } from '../support/clients-app.js';
import { waitFor } from '@aurora/process';

describe('end to end with the real vault agent', () => {
  let stack: ClientsStack;
  const first = `super-secret-${crypto.randomBytes(12).toString('hex')}`;
  const second = `new-secret-${crypto.randomBytes(12).toString('hex')}`;
  before(async () => {
    stack = await ClientsStack.start({ agent: { renderInterval: '1s', committedConfig: true } });
  });
  after(async () => {
    await stack?.stop();
  });

  const status = async (secret: string) =>
    (await stack.request('GET', '/fhir/Patient', { auth: ['basic', secret] })).status;
  const kvPut = (value: string) => stack.cli(['kv', 'put', 'secret/aidbox/client', `client-secret=${value}`]);

  test('the agent runs although secret/aidbox/client does not exist yet', async () => {
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(stack.agent!.running, `agent still running: ${stack.agent!.log().slice(-1500)}`);
    assert.ok(
      !fs.existsSync(stack.secretFile('client-secret')) ||
        fs.readFileSync(stack.secretFile('client-secret'), 'utf8') === '',
      'nothing (or nothing usable) rendered',
    );
  });

  test('a secret without the listed key renders an empty file, never a guessable "<no value>"', async () => {
    stack.cli(['kv', 'put', 'secret/aidbox/client', 'other-key=x']);
    await waitFor(
      'the agent to render client-secret',
      async () => (fs.existsSync(stack.secretFile('client-secret')) ? true : undefined),
      15_000,
    );
    assert.equal(fs.readFileSync(stack.secretFile('client-secret'), 'utf8'), '');
    assert.equal(
      (
        await stack.request('PUT', '/fhir/Client/basic', {
          auth: stack.admin(),
          body: userClient('basic', 'client-secret'),
        })
      ).status,
      201,
    );
    assert.equal(await status('<no value>'), 401);
    assert.equal(await status(''), 401);
  });

  test('rendered files are 0400', () => {
    assert.equal(fs.statSync(stack.secretFile('admin-secret')).mode & 0o777, 0o400);
  });

  test('the walkthrough: kv put, ls, PUT Client, curl 200/401', async () => {
    kvPut(first);
    await stack.agent!.waitForFile('client-secret', (c) => c === first, 15_000);
    assert.deepEqual(
      fs
        .readdirSync(stack.secretsDir)
        .filter((f) => !f.startsWith('.'))
        .sort(),
      ['admin-secret', 'client-secret'],
    );
    assert.equal(fs.statSync(stack.secretFile('client-secret')).mode & 0o777, 0o400);
    assert.equal(
      (
        await stack.request('PUT', '/fhir/Client/basic', {
          auth: stack.admin(),
          body: userClient('basic', 'client-secret'),
        })
      ).status,
      200,
    );
    assert.equal(await status(first), 200);
    assert.equal(await status('wrong-password'), 401);
  });

  test('rotation in Vault: the agent re-renders, new accepted, old refused, no app restart', async () => {
    const pid = stack.appPid;
    const inode = fs.statSync(stack.secretFile('client-secret')).ino;
    kvPut(second);
    const started = Date.now();
    await waitFor(
      'the new secret to be accepted and the old refused',
      async () => {
        const [n, o] = [await status(second), await status(first)];
        return n === 200 && o === 401 ? true : undefined;
      },
      15_000,
      100,
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 10_000, `took ${elapsed} ms with a 1 s render interval`);
    assert.equal(await status(first), 401);
    assert.equal(stack.appPid, pid, 'the app was not restarted');
    assert.notEqual(
      fs.statSync(stack.secretFile('client-secret')).ino,
      inode,
      'replaced by a rename, not rewritten in place',
    );
    assert.ok(stack.agent!.running);
  });

  test('canary scan: no value in responses, the app log or PostgreSQL', () => {
    assert.deepEqual(stack.leaks([first, second, stack.adminSecret]), []);
  });
});
