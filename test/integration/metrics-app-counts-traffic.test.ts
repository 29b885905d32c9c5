// User story: as an operator I scrape the app's /metrics (its own loopback listener) and the numbers follow what
// happened: N resolves of one credential are one cache miss (one Vault read) and N-1 hits, a wrong secret and an
// unknown client are counted as such, requests are counted by route pattern and status with their latency (an error
// answer too), the PostgreSQL pool and the app token's seconds to expiry are there, and nothing in the scrape is a
// secret.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { VaultClient, VaultForbiddenError } from '@aurora/common';
import fs from 'node:fs';
import { CredentialsStack, parseScrape, type Scrape } from '@aurora/process';

const RESOLVE_ROUTE = '/users/:userId/credentials/:type/resolve';

describe("the app's /metrics", () => {
  let stack: CredentialsStack;
  let before_: Scrape;
  let after_: Scrape;
  const canary = `canary-metrics-${Date.now().toString(36)}`;
  const delta = (name: string, labels?: Record<string, string>) =>
    (after_.value(name, labels) ?? 0) - (before_.value(name, labels) ?? 0);

  before(async () => {
    stack = await CredentialsStack.start({ env: { CACHE_TTL_SECONDS: '60' } });
  });
  after(async () => {
    await stack?.stop();
  });

  test('a known sequence of requests moves the counters by exactly that much', async () => {
    const w = { auth: 'writer' } as const;
    assert.equal(
      (await stack.request('PUT', '/users/ann/credentials/db', { ...w, body: { data: { password: canary } } })).status,
      201,
    );
    before_ = parseScrape((await stack.scrapeMetrics()).app);

    const N = 5;
    for (let i = 0; i < N; i++)
      assert.equal((await stack.request('POST', '/users/ann/credentials/db/resolve', w)).status, 200);
    assert.equal(
      (await stack.request('GET', '/users/ann/credentials', { auth: ['writer', 'wrong-secret'] })).status,
      401,
    );
    assert.equal((await stack.request('GET', '/users/ann/credentials', { auth: ['nobody', 'x'] })).status, 401);
    assert.equal((await stack.request('GET', '/users/ann/credentials')).status, 401);
    // Errors are answered by the app's error handler, outside the route's router: still counted under the route.
    assert.equal((await stack.request('GET', '/users/ann/credentials/none', w)).status, 404);
    assert.equal((await stack.request('GET', '/fhir/Patient/nobody', w)).status, 404);

    after_ = parseScrape((await stack.scrapeMetrics()).app);
    assert.equal(delta('aurora_app_resolves_total', { outcome: 'miss' }), 1, 'the first resolve reads Vault');
    assert.equal(delta('aurora_app_resolves_total', { outcome: 'hit' }), N - 1, 'the others are cache hits');
    assert.equal(delta('aurora_app_resolves_total', { outcome: 'coalesced' }), 0);
    assert.equal(delta('aurora_app_vault_requests_total', { operation: 'kv_read', outcome: 'ok' }), 1);
    assert.equal(delta('aurora_app_vault_request_duration_seconds', { operation: 'kv_read' }), 1);

    assert.equal(delta('aurora_app_auth_attempts_total', { outcome: 'wrong_secret' }), 1);
    assert.equal(delta('aurora_app_auth_attempts_total', { outcome: 'unknown_client' }), 1);
    assert.equal(delta('aurora_app_auth_attempts_total', { outcome: 'missing' }), 1);
    assert.equal(delta('aurora_app_auth_attempts_total', { outcome: 'ok' }), N + 2, 'the resolves and the two 404s');

    assert.equal(delta('aurora_app_http_requests_total', { route: RESOLVE_ROUTE, status: '200' }), N);
    assert.equal(delta('aurora_app_http_request_duration_seconds', { route: RESOLVE_ROUTE }), N);
    assert.equal(
      delta('aurora_app_http_requests_total', { route: '/users/:userId/credentials/:type', status: '404' }),
      1,
    );
    assert.equal(delta('aurora_app_http_requests_total', { route: '/fhir/Patient/:id', status: '404' }), 1);
    // Refused before any route matched: counted, under no user's URL.
    assert.equal(delta('aurora_app_http_requests_total', { route: 'unmatched', status: '401' }), 3);
    const routes = new Set(after_.samples('aurora_app_http_requests_total').map((s) => s.labels.route));
    assert.ok(![...routes].some((r) => r?.includes('ann')), `a route label holds a user id: ${[...routes].join(', ')}`);
  });

  test('the pool, the token lifetime and the process metrics are there', () => {
    assert.ok((after_.value('aurora_app_pg_pool_connections', { state: 'idle' }) ?? -1) >= 0);
    assert.ok((after_.value('aurora_app_pg_pool_connections', { state: 'in_use' }) ?? -1) >= 0);
    assert.equal(after_.value('aurora_app_pg_pool_waiting'), 0);
    const ttl = after_.value('aurora_app_vault_expiry_seconds', { kind: 'token', name: 'app-token' });
    assert.ok(ttl !== undefined && ttl > 0, `the app token's seconds to expiry: ${ttl}`);
    assert.ok(after_.names().includes('process_resident_memory_bytes'));
    assert.ok(after_.names().includes('nodejs_eventloop_lag_seconds'));
  });

  test("Vault's own metrics are readable with the aurora-metrics token, and nothing else is", async () => {
    const { vault } = await stack.scrapeMetrics();
    assert.ok(
      parseScrape(vault)
        .names()
        .some((n) => n.startsWith('vault_')),
      'Vault telemetry is on',
    );
    const token = fs.readFileSync(`${stack.initDirs.cliDir}/metrics-token`, 'utf8').trim();
    const metricsOnly = new VaultClient({ addr: stack.vault.addr, token });
    await assert.rejects(
      metricsOnly.kvRead('aurora', 'users/ann/db'),
      VaultForbiddenError,
      'the metrics token cannot read a secret',
    );
    await assert.rejects(
      new VaultClient({ addr: stack.vault.addr }).metricsPrometheus(),
      (err: Error) => err instanceof VaultForbiddenError || /status 400/.test(err.message),
      'sys/metrics without a token is refused',
    );
  });

  test('no scrape holds a secret: client secrets, the credential value, tokens', () => {
    const secrets = [canary, ...stack.clientSecrets.values(), stack.operatorToken];
    assert.deepEqual(stack.leaks(secrets), []);
  });
});
