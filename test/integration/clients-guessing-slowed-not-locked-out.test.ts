// User story: someone who knows a client id guesses its secret, from several addresses. The guesses are
// slowed down (after AUTH_MAX_FAILURES different wrong secrets per Client, and per address where addresses
// are real, a new secret waits with 429 and Retry-After), but the Client's legitimate user is not locked out:
// the secret it authenticates with is always checked. A client retrying one secret is not guessing and is
// never refused. X-Forwarded-For counts only from AUTH_TRUSTED_PROXIES. Wrong guesses against a Vault-held
// secret do not turn into Vault reads: the re-read after a mismatch is rate-limited per reference, and a
// rotation in Vault is still seen within that interval.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ClientsStack, userClient } from '../support/clients-app.js';
import { waitFor } from '@aurora/process';
import { fieldFault } from '../faults/field-fault.js';

const { test } = fieldFault('clients-guessing-slowed-not-locked-out', {
  fault: 'A guesser could lock a Client out',
  outcome:
    "guessing, also from several addresses, is slowed down while the Client's own secret is still accepted; Vault re-reads are rate-limited",
});

const LIMITS = {
  AUTH_MAX_FAILURES: '5',
  AUTH_FAILURE_WINDOW_SECONDS: '300',
  AUTH_VAULT_REREAD_SECONDS: '2',
};

describe('guessing is slowed down, the Client is not locked out', () => {
  let stack: ClientsStack;
  const fileSecret = `file-${crypto.randomBytes(12).toString('hex')}`;
  const vaultSecret = `vault-${crypto.randomBytes(12).toString('hex')}`;
  const rotated = `rotated-${crypto.randomBytes(12).toString('hex')}`;

  before(async () => {
    stack = await ClientsStack.start({
      env: { ...LIMITS, AUTH_TRUSTED_PROXIES: '127.0.0.1', AUTH_LIMIT_BY_ADDRESS: 'true' },
    });
    fs.writeFileSync(stack.secretFile('client-secret'), fileSecret, { mode: 0o400 });
    await stack.operator().kvWrite('secret', 'clients/svc', { 'client-secret': vaultSecret });
    await stack.operator().kvWrite('secret', 'clients/svc2', { 'client-secret': vaultSecret });
    for (const [id, ref] of [
      ['basic', 'client-secret'],
      ['svc', 'vault:kv/data/secret/clients/svc'],
      ['svc2', 'vault:kv/data/secret/clients/svc2'],
    ] as const) {
      const put = await stack.request('PUT', `/fhir/Client/${id}`, { auth: stack.admin(), body: userClient(id, ref) });
      assert.equal(put.status, 201, put.text);
    }
  });
  after(async () => {
    await stack?.stop();
  });

  const call = async (id: string, secret: string, from?: string) =>
    stack.request('GET', '/fhir/Patient', {
      auth: [id, secret],
      ...(from ? { headers: { 'x-forwarded-for': from } } : {}),
    });

  test('a client retrying the same wrong secret 30 times is answered 401 every time, never 429', async () => {
    for (let i = 0; i < 30; i++) assert.equal((await call('basic', 'not-yet-rendered', '198.51.100.7')).status, 401);
    assert.equal((await call('basic', fileSecret, '198.51.100.7')).status, 200);
  });

  test('a guesser from 4 addresses gets 429 for new guesses; the legitimate user keeps its 200', async () => {
    assert.equal((await call('svc', vaultSecret, '203.0.113.10')).status, 200, 'the user, before the attack');
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await call('svc', `guess-${i}`, `192.0.2.${1 + (i % 4)}`)).status);
    assert.equal(statuses.filter((s) => s === 401).length, 5, `5 distinct guesses are checked: ${statuses.join(' ')}`);
    assert.equal(statuses.filter((s) => s === 429).length, 35);
    const refused = await call('svc', 'guess-new', '192.0.2.99');
    assert.equal(refused.status, 429, 'a new address does not buy new guesses for the Client');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    for (const from of ['203.0.113.10', '192.0.2.1', '198.51.100.200'])
      assert.equal((await call('svc', vaultSecret, from)).status, 200, `the user from ${from}, during the attack`);
    assert.match(stack.log(), /too many different wrong secrets/);
  });

  test('an address that guessed is slowed down for every Client; other addresses are not', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await call(`nobody-${i}`, 'x', '192.0.2.50')).status, 401);
    assert.equal((await call('basic', 'another-guess', '192.0.2.50')).status, 429);
    assert.equal((await call('basic', 'another-guess', '192.0.2.51')).status, 401);
    assert.equal((await call('basic', fileSecret, '192.0.2.50')).status, 200, 'a right secret is never refused');
  });

  test('guessing against a Vault-held secret does not load Vault, and a rotation there is still seen', async () => {
    const readsOfSvc = () =>
      fs
        .readFileSync(stack.auditFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"type":"response"') && l.includes('secret/data/clients/svc')).length;
    const before = readsOfSvc();
    const started = Date.now();
    // Retries of known wrong secrets are always checked: each one is a mismatch that could trigger a re-read.
    for (let i = 0; i < 60; i++) assert.equal((await call('svc', 'guess-0', '192.0.2.1')).status, 401);
    const seconds = (Date.now() - started) / 1000;
    const reads = readsOfSvc() - before;
    assert.ok(reads <= Math.ceil(seconds / 2) + 1, `${reads} Vault reads for 60 wrong guesses in ${seconds} s`);

    // A rotation while someone keeps sending one wrong secret: the re-read it triggers is the rotation's too.
    assert.equal((await call('svc2', vaultSecret, '203.0.113.10')).status, 200);
    await stack.operator().kvWrite('secret', 'clients/svc2', { 'client-secret': rotated });
    const rotatedAt = Date.now();
    const hammer = (async () => {
      while (Date.now() - rotatedAt < 4000) await call('svc2', 'one-wrong-guess', '192.0.2.3');
    })();
    const seen: number[] = [];
    await waitFor(
      'the rotated secret to be accepted',
      async () => {
        const s = (await call('svc2', rotated, '203.0.113.10')).status;
        seen.push(s);
        return s === 200 ? true : undefined;
      },
      15_000,
      250,
    );
    const took = Date.now() - rotatedAt;
    await hammer;
    assert.ok(!seen.includes(429), `answers while polling: ${seen.join(' ')}`);
    assert.ok(took < 2000 + 3000, `accepted ${took} ms after the rotation (re-read interval 2 s)`);
    assert.equal((await call('svc2', vaultSecret, '203.0.113.10')).status, 401, 'the old secret is refused');
  });

  test('X-Forwarded-For from a peer that is not a trusted proxy is ignored', async () => {
    await stack.stopApp();
    await stack.startApp({ ...LIMITS, AUTH_LIMIT_BY_ADDRESS: 'true' });
    for (let i = 0; i < 5; i++) assert.equal((await call(`ghost-${i}`, 'x', `192.0.2.${100 + i}`)).status, 401);
    // Every caller here is 127.0.0.1 whatever the header says: the sixth different guess waits.
    assert.equal((await call('ghost-9', 'x', '198.51.100.1')).status, 429);
    assert.deepEqual(stack.leaks([fileSecret, vaultSecret, rotated, stack.adminSecret]), []);
  });
});
