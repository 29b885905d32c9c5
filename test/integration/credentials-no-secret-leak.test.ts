// User story: as a security reviewer, after a session that uses every credential route, including failures
// (bad input carrying a value, Vault down mid-write, a compensated write, doctor runs), no secret value is in
// a pg_dump of the database, in any captured log line (app, doctor, vault-init), in any answer but resolve's,
// in a metrics scrape (the app's and Vault's), or in Vault's audit log (which HMACs values).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { CredentialsStack } from '@aurora/process';

describe('no secret value leaks anywhere', () => {
  let stack: CredentialsStack;
  const canaries = Array.from({ length: 6 }, (_, i) => `canary-leak-${i}-${crypto.randomBytes(12).toString('hex')}`);
  const [c0, c1, c2, c3, c4, c5] = canaries as [string, string, string, string, string, string];

  before(async () => {
    stack = await CredentialsStack.start({ env: { LOG_LEVEL: 'silly' } });
  });
  after(async () => {
    await stack?.stop();
  });

  test('a session over every route, with failures', async () => {
    const w = { auth: 'writer' } as const;
    assert.equal(
      (await stack.request('PUT', '/users/kim/credentials/github', { ...w, body: { data: { token: c0, note: c1 } } }))
        .status,
      201,
    );
    assert.equal((await stack.request('GET', '/users/kim/credentials', w)).status, 200);
    assert.equal((await stack.request('GET', '/users/kim/credentials/github', w)).status, 200);
    assert.equal((await stack.request('POST', '/users/kim/credentials/github/resolve', w)).status, 200);
    assert.equal(
      (await stack.request('PUT', '/users/kim/credentials/github', { ...w, body: { data: { token: c2 } } })).status,
      200,
    );
    assert.equal(
      (await stack.request('PUT', '/users/kim/credentials/github', { ...w, body: { data: { token: c3 }, extra: c3 } }))
        .status,
      400,
    );
    assert.equal(
      (await stack.request('PUT', '/users/kim/credentials/github', { ...w, body: { data: { [`bad key ${c3}`]: c3 } } }))
        .status,
      400,
    );
    assert.equal(
      (
        await stack.request('PUT', '/users/kim/credentials/github', {
          ...w,
          rawBody: `{"data": {"token": "${c3}"`,
          headers: { 'content-type': 'application/json' },
        })
      ).status,
      400,
    );
    assert.equal(
      (
        await stack.request('PUT', '/users/kim/credentials/github', {
          ...w,
          body: { data: { token: c3 } },
          headers: { 'if-match': '1' },
        })
      ).status,
      409,
    );
    await stack.vault.stop();
    assert.equal(
      (await stack.request('PUT', '/users/kim/credentials/github', { ...w, body: { data: { token: c4 } } })).status,
      503,
    );
    assert.equal((await stack.request('POST', '/users/kim/credentials/other/resolve', w)).status, 404);
    await stack.vault.startProcess();
    await stack.runVaultInit();
    assert.equal(
      (await stack.request('PUT', '/users/kim/credentials/aws', { ...w, body: { data: { secret: c5 } } })).status,
      201,
    );
    assert.equal(stack.app.doctor().code, 0);
    assert.equal(stack.app.doctor(['--repair', '--json']).code, 0);
    assert.equal((await stack.request('DELETE', '/users/kim/credentials/aws', w)).status, 204);
  });

  test('pg_dump, every log line, every answer but resolve, metrics and the audit log hold no canary', async () => {
    await stack.scrapeMetrics();
    assert.deepEqual(stack.leaks(canaries), []);
    const audit = fs.readFileSync(stack.initDirs.auditFile, 'utf8');
    assert.ok(audit.length > 0, 'the audit device is on');
    assert.deepEqual(
      canaries.filter((c) => audit.includes(c)),
      [],
    );
    // The values did reach Vault and came back through resolve: the canaries were real.
    assert.ok(stack.resolveResponses.some((r) => r.text.includes(c0)));
  });
});
