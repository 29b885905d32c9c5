// User story: repeated failed logins from one address or for one client id are refused with 429 until the
// window ends, and the limiter's memory stays bounded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureLimiter } from '@aurora/app/auth/limiter';
import { constantTimeEqual, parseBasic } from '@aurora/app/auth/basic-auth';

describe('the failure limiter', () => {
  test('blocks after maxFailures within the window, then lets the next window through', () => {
    let now = 1_000_000;
    const limiter = new FailureLimiter({ maxFailures: 3, windowSeconds: 60, now: () => now });
    const keys = ['addr:1.2.3.4', 'client:basic'];
    for (let i = 0; i < 3; i++) {
      assert.equal(limiter.blockedFor(keys), 0);
      limiter.fail(keys);
    }
    assert.equal(limiter.blockedFor(keys), 60);
    assert.equal(limiter.firstRefusal(keys), true, 'the first refusal is logged');
    assert.equal(limiter.firstRefusal(keys), false, 'later ones are not');
    assert.equal(limiter.blockedFor(['client:basic']), 60, 'the client id is blocked from any address');
    assert.equal(limiter.blockedFor(['addr:1.2.3.4', 'client:other']), 60, 'the address is blocked for any client');
    assert.equal(limiter.blockedFor(['addr:5.6.7.8', 'client:other']), 0);
    now += 30_000;
    assert.equal(limiter.blockedFor(keys), 30);
    now += 30_000;
    assert.equal(limiter.blockedFor(keys), 0);
  });

  test('memory is bounded', () => {
    const limiter = new FailureLimiter({ maxFailures: 3, windowSeconds: 60, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) limiter.fail([`addr:${i}`]);
    assert.ok(limiter.size <= 100);
  });
});

describe('Basic credentials', () => {
  test('parse the header; a colon in the secret is kept', () => {
    const h = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
    assert.deepEqual(parseBasic(h('basic:super:secret')), { clientId: 'basic', secret: 'super:secret' });
    assert.equal(parseBasic(undefined), undefined);
    assert.equal(parseBasic('Bearer abc'), undefined);
    assert.equal(parseBasic(h('no-colon')), undefined);
    assert.equal(parseBasic(h(':secret')), undefined);
  });

  test('compare equal and unequal values of any length', () => {
    assert.ok(constantTimeEqual('same', 'same'));
    assert.ok(!constantTimeEqual('same', 'samE'));
    assert.ok(!constantTimeEqual('short', 'a much longer value'));
    assert.ok(!constantTimeEqual('', 'x'));
  });
});
