// User story: as an operator I keep Prometheus small: every label the app puts on a metric comes from a short,
// fixed list (Vault operation kinds, outcome words), never from a path, a user id or a client id.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { vaultOperation } from '@aurora/common';
import { authOutcomeOf } from '@aurora/app/telemetry/metrics';
import { parseScrape } from '@aurora/process';

describe('metric labels', () => {
  test('a Vault request is named by its kind, not its path', () => {
    const cases: Array<[string, string, string]> = [
      ['GET', '/aurora/data/users/u-123/github', 'kv_read'],
      ['POST', '/aurora/data/users/u-123/github', 'kv_write'],
      ['GET', '/aurora/metadata/users/u-9/db', 'kv_metadata_read'],
      ['DELETE', '/aurora/metadata/users/u-9/db', 'kv_metadata_delete'],
      ['LIST', '/aurora/metadata/users', 'kv_metadata_list'],
      ['POST', '/auth/approle/login', 'login'],
      ['GET', '/auth/token/lookup-self', 'token_lookup'],
      ['POST', '/auth/token/renew-self', 'token_renew'],
      ['GET', '/sys/health?uninitcode=200&sealedcode=200', 'sys_health'],
      ['GET', '/sys/seal-status', 'sys_seal_status'],
      ['GET', '/sys/storage/raft/autopilot/state', 'sys_storage'],
    ];
    for (const [method, p, want] of cases) assert.equal(vaultOperation(method, p), want, `${method} ${p}`);
  });

  test("the authenticator's reasons map onto the fixed outcome words", () => {
    assert.equal(authOutcomeOf('wrong secret'), 'wrong_secret');
    assert.equal(authOutcomeOf('unknown client'), 'unknown_client');
    assert.equal(authOutcomeOf('secret out of scope'), 'out_of_scope');
    // Anything else (a file gone, a reference Vault refuses, with its details) is one word, not the reason text.
    assert.equal(authOutcomeOf('secret unavailable in Vault (vault_forbidden)'), 'secret_unavailable');
  });

  test('a scrape is read by name and labels; an absent series is undefined, not 0', () => {
    const m = parseScrape(
      [
        '# TYPE x_total counter',
        'x_total{outcome="hit"} 3',
        'x_total{outcome="miss"} 1',
        '# TYPE h_seconds histogram',
        'h_seconds_bucket{route="/a",le="0.1"} 2',
        'h_seconds_bucket{route="/a",le="+Inf"} 2',
        'h_seconds_sum{route="/a"} 0.05',
        'h_seconds_count{route="/a"} 2',
        '',
      ].join('\n'),
    );
    assert.equal(m.value('x_total'), 4);
    assert.equal(m.value('x_total', { outcome: 'hit' }), 3);
    assert.equal(m.value('x_total', { outcome: 'coalesced' }), undefined);
    assert.equal(m.value('h_seconds', { route: '/a' }), 2);
  });
});
