// User story: as an operator I give the app tokens that live seconds, not hours — AppRole tokens of 5 s capped
// at 15 s, or a static renewable VAULT_TOKEN of 10 s — and under a minute of steady load every request still
// succeeds: the app renews before expiry and logs in again before the max TTL instead of after a 403. A token it
// cannot keep alive (not renewable) is announced at start, and /readyz and /status say when it expires.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient } from '@aurora/common';
import { AppProcess, waitFor, CredentialsStack } from '@aurora/process';
import { fieldFault } from '../faults/field-fault.js';

const { test } = fieldFault('token-lifetimes-short-ttl', {
  fault: 'Vault tokens that expired silently',
  outcome: 'renewed before expiry and replaced before the max TTL; a minute of load with TTLs of seconds: zero non-2xx',
});

const LOAD_MS = Number(process.env.LIFETIME_LOAD_MS ?? 60_000);

interface Outcome {
  total: number;
  failures: string[];
}

/** `workers` loops of PUT + resolve against `url` for `ms`; every non-2xx answer is kept. */
async function steadyLoad(url: string, auth: [string, string], ms: number, workers = 3): Promise<Outcome> {
  const header = `Basic ${Buffer.from(`${auth[0]}:${auth[1]}`).toString('base64')}`;
  const out: Outcome = { total: 0, failures: [] };
  const deadline = Date.now() + ms;
  const one = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${url}${p}`, {
      method,
      headers: { authorization: header, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(20_000),
    }).catch((err: Error) => ({ status: 0, text: async () => err.message }));
    out.total += 1;
    if (res.status < 200 || res.status > 299) out.failures.push(`${method} ${p}: ${res.status} ${await res.text()}`);
  };
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; Date.now() < deadline; i++) {
        await one('PUT', `/users/load-${w}/credentials/api`, { data: { key: `v-${w}-${i}` } });
        await one('POST', `/users/load-${w}/credentials/api/resolve`);
      }
    }),
  );
  return out;
}

async function status(url: string): Promise<{
  checks: Record<string, string>;
  vault: { token: { status: string; expiresInSeconds: number | null; renewable: boolean; next: unknown } };
}> {
  return (await (await fetch(`${url}/status`)).json()) as never;
}

describe('tokens that live seconds: renewed, replaced before the max TTL, announced when they cannot be', () => {
  let stack: CredentialsStack;
  let root: VaultClient;
  const extra: AppProcess[] = [];

  before(async () => {
    stack = await CredentialsStack.start({
      env: { CACHE_TTL_SECONDS: '0' },
      initEnv: { VAULT_APPROLE_TOKEN_TTL: '5s', VAULT_APPROLE_TOKEN_MAX_TTL: '15s' },
    });
    const init = JSON.parse(fs.readFileSync(path.join(stack.initDirs.initDir, 'init.json'), 'utf8')) as {
      root_token: string;
    };
    root = new VaultClient({ addr: stack.vault.addr, token: init.root_token });
  });
  after(async () => {
    for (const app of extra) await app.stop().catch(() => undefined);
    await stack?.stop();
  });

  const staticToken = async (ttl: string, renewable: boolean): Promise<string> => {
    const res = await root.write<{ auth: { client_token: string } }>('auth/token/create', {
      policies: ['aurora-app'],
      ttl,
      renewable,
      no_parent: true,
    });
    return res.auth.client_token;
  };

  test('the AppRole role carries the TTLs of the settings', async () => {
    const role = await root.read<{ data: { token_ttl: number; token_max_ttl: number } }>(
      'auth/approle/role/aurora-app',
    );
    assert.equal(role.data.token_ttl, 5);
    assert.equal(role.data.token_max_ttl, 15);
  });

  test('a minute of steady load on AppRole (5 s / 15 s) and on a static renewable token (10 s): zero non-2xx', async (t) => {
    const tokenApp = await AppProcess.start({ ...stack.app.env, VAULT_TOKEN: await staticToken('10s', true) });
    extra.push(tokenApp);
    await tokenApp.waitReady();
    assert.match(tokenApp.log(), /VAULT_TOKEN\) is short-lived \(TTL \d+ s\)/);

    const [approle, staticApp] = await Promise.all([
      steadyLoad(stack.app.url, stack.auth('writer'), LOAD_MS),
      steadyLoad(tokenApp.url, stack.auth('writer'), LOAD_MS),
    ]);
    assert.deepEqual(approle.failures.slice(0, 5), [], `AppRole app: ${approle.failures.length}/${approle.total}`);
    assert.deepEqual(staticApp.failures.slice(0, 5), [], `static-token app: ${staticApp.failures.length}`);
    assert.ok(approle.total > 20 && staticApp.total > 20, `load ran (${approle.total}, ${staticApp.total})`);
    t.diagnostic(`requests: AppRole app ${approle.total}, static-token app ${staticApp.total}, all 2xx`);

    // The AppRole app logged in again before each max TTL (a minute holds at least three 15 s lifetimes),
    // and never because Vault refused its token.
    const logins = stack.app.log().match(/logged in to Vault with AppRole/g)?.length ?? 0;
    t.diagnostic(`AppRole logins during the load: ${logins}`);
    assert.ok(logins >= 1 + Math.floor(LOAD_MS / 15_000) - 1, `AppRole logins: ${logins}`);
    assert.match(stack.app.log(), /reaches its max TTL; obtaining a new one before then/);
    assert.doesNotMatch(stack.app.log(), /is no longer valid; obtaining a new one/);

    // The static token was renewed all along: it still works and is far from expiry.
    const s = await status(tokenApp.url);
    assert.equal(s.vault.token.status, 'ok');
    assert.ok(s.vault.token.expiresInSeconds !== null && s.vault.token.expiresInSeconds <= 10);
    assert.equal(s.checks.vault_token, 'ok');
  });

  test('a token that cannot be renewed is announced at start; /readyz reports it expiring, then expired', async () => {
    const app = await AppProcess.start({ ...stack.app.env, VAULT_TOKEN: await staticToken('8s', false) });
    extra.push(app);
    await app.waitReady();
    assert.match(app.log(), /VAULT_TOKEN\) is not renewable and expires at/);
    const ready = await fetch(`${app.url}/readyz`);
    const body = (await ready.json()) as { checks: Record<string, string> };
    assert.equal(ready.status, 200, 'it still works: the instance can serve until it expires');
    assert.match(body.checks.vault_token!, /^expiring: expires in \d s; .*not renewable/);

    const expired = await waitFor(
      '/readyz to report the token expired',
      async () => {
        const res = await fetch(`${app.url}/readyz`);
        const b = (await res.json()) as { checks: Record<string, string> };
        return res.status === 503 && /^expired/.test(b.checks.vault_token ?? '') ? b : undefined;
      },
      30_000,
      250,
    );
    assert.match(expired.checks.vault_token!, /not renewable/);
    const s = await status(app.url);
    assert.equal(s.vault.token.status, 'expired');
    assert.equal(s.vault.token.expiresInSeconds, 0);
  });
});
