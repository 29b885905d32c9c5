// User story (the Clients walkthrough's rotation, with the real `vault agent` and the default limits): an
// operator rotates secret/aidbox/client; the client switches to the new secret at once and retries once a
// second. Until the agent renders the new value, each retry fails, but a retry of the same secret is not a
// guess, so the limiter never answers 429, and the new secret is accepted within the render interval + 5 s.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { ClientsStack, userClient } from '../support/clients-app.js';
import { waitFor } from '@aurora/process';
import { fieldFault } from '../faults/field-fault.js';

const { test } = fieldFault('clients-rotation-retry-accepted', {
  fault: 'Rotation locked out the client that rotated',
  outcome: 'a client retrying every second with the new secret is accepted within the render interval + 5 s',
});

const RENDER_INTERVAL_S = 15;

describe('rotation: the client that rotated is not locked out', () => {
  let stack: ClientsStack;
  const first = `first-${crypto.randomBytes(12).toString('hex')}`;
  const second = `second-${crypto.randomBytes(12).toString('hex')}`;
  before(async () => {
    // AUTH_MAX_FAILURES at its default (10): fewer than the retries that happen before the agent renders.
    stack = await ClientsStack.start({
      agent: { renderInterval: `${RENDER_INTERVAL_S}s` },
      env: { AUTH_MAX_FAILURES: '10', AUTH_FAILURE_WINDOW_SECONDS: '60' },
    });
    stack.cli(['kv', 'put', 'secret/aidbox/client', `client-secret=${first}`]);
    await stack.agent!.waitForFile('client-secret', (c) => c === first, (RENDER_INTERVAL_S + 15) * 1000);
    const put = await stack.request('PUT', '/fhir/Client/basic', {
      auth: stack.admin(),
      body: userClient('basic', 'client-secret'),
    });
    assert.equal(put.status, 201, put.text);
  });
  after(async () => {
    await stack?.stop();
  });

  test('retrying the new secret once a second: accepted within the render interval + 5 s, never 429', async () => {
    const status = async (secret: string) =>
      (await stack.request('GET', '/fhir/Patient', { auth: ['basic', secret] })).status;
    assert.equal(await status(first), 200);
    stack.cli(['kv', 'put', 'secret/aidbox/client', `client-secret=${second}`]);
    const rotatedAt = Date.now();
    const seen: number[] = [];
    await waitFor(
      'the new secret to be accepted',
      async () => {
        const s = await status(second);
        seen.push(s);
        return s === 200 ? true : undefined;
      },
      (RENDER_INTERVAL_S + 20) * 1000,
      1000,
    );
    const took = Date.now() - rotatedAt;
    assert.ok(!seen.includes(429), `answers while retrying: ${seen.join(' ')}`);
    assert.ok(took <= (RENDER_INTERVAL_S + 5) * 1000, `accepted after ${took} ms`);
    assert.equal(await status(first), 401, 'the old secret is refused');
    assert.deepEqual(stack.leaks([first, second, stack.adminSecret]), []);
  });
});
