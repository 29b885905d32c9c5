// User story: a client retrying the same secret is not guessing, and a guesser cannot lock a Client out.
// The limiter counts distinct wrong secrets (by keyed digest) per client id and per address, slows new
// guesses down with Retry-After, always compares retries and secrets the Client was accepted with, and keeps
// its memory bounded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { GuessLimiter, type Admission } from '@aurora/app/auth/limiter';
import { parseBasic } from '@aurora/app/auth/basic-auth';
import { sameDigest, secretDigest } from '@aurora/app/auth/client-secret-rule';

function attempt(limiter: GuessLimiter, id: string, secret: string, right: boolean, addr?: string): Admission {
  const a = limiter.admit(id, secretDigest(id, secret), addr);
  if (a.admitted) limiter.settle(a.ticket, right);
  return a;
}

describe('the guess limiter', () => {
  test('retrying the same wrong secret counts once: a rotating client is never refused', () => {
    const limiter = new GuessLimiter({ maxGuesses: 3, windowSeconds: 60, now: () => 1_000 });
    for (let i = 0; i < 100; i++) assert.equal(attempt(limiter, 'basic', 'new-secret', false).admitted, true);
    assert.equal(attempt(limiter, 'basic', 'new-secret', true).admitted, true);
  });

  test('distinct wrong secrets: after maxGuesses new ones wait (Retry-After), and tokens come back over the window', () => {
    let now = 1_000_000;
    const limiter = new GuessLimiter({ maxGuesses: 3, windowSeconds: 60, now: () => now });
    for (let i = 0; i < 3; i++) assert.equal(attempt(limiter, 'basic', `guess-${i}`, false).admitted, true);
    const refused = attempt(limiter, 'basic', 'guess-3', false);
    assert.equal(refused.admitted, false);
    assert.equal(!refused.admitted && refused.retryAfterSeconds, 20, 'one token per window/maxGuesses');
    assert.equal(!refused.admitted && refused.firstRefusal, true, 'the first refusal is logged');
    const again = attempt(limiter, 'basic', 'guess-4', false);
    assert.equal(!again.admitted && again.firstRefusal, false, 'later ones are not');
    assert.equal(attempt(limiter, 'basic', 'guess-0', false).admitted, true, 'a known wrong secret is compared again');
    assert.equal(attempt(limiter, 'other', 'guess-9', false).admitted, true, 'other Clients are not affected');
    now += 20_000;
    assert.equal(attempt(limiter, 'basic', 'guess-5', false).admitted, true);
    assert.equal(attempt(limiter, 'basic', 'guess-6', false).admitted, false);
  });

  test('a guesser cannot lock out the Client: a secret it was accepted with is always compared', () => {
    const limiter = new GuessLimiter({ maxGuesses: 3, windowSeconds: 60, now: () => 1_000 });
    assert.equal(attempt(limiter, 'svc', 'the-right-one', true).admitted, true);
    for (let i = 0; i < 50; i++) attempt(limiter, 'svc', `guess-${i}`, false, `10.0.0.${i % 5}`);
    assert.equal(attempt(limiter, 'svc', 'guess-new', false).admitted, false);
    assert.equal(attempt(limiter, 'svc', 'the-right-one', true, '10.0.0.1').admitted, true);
  });

  test('parallel new guesses cannot overdraw: the token is taken before the comparison', () => {
    const limiter = new GuessLimiter({ maxGuesses: 2, windowSeconds: 60, now: () => 1_000 });
    const pending = Array.from({ length: 10 }, (_, i) => limiter.admit('svc', secretDigest('svc', `g${i}`)));
    assert.equal(pending.filter((a) => a.admitted).length, 2);
  });

  test('by address: one address that guessed is slowed down for every client, another is not', () => {
    const limiter = new GuessLimiter({ maxGuesses: 3, windowSeconds: 60, now: () => 1_000 });
    for (let i = 0; i < 3; i++) attempt(limiter, `c${i}`, 'guess', false, '192.0.2.1');
    assert.equal(attempt(limiter, 'c9', 'guess', false, '192.0.2.1').admitted, false);
    assert.equal(attempt(limiter, 'c9', 'guess', false, '192.0.2.2').admitted, true);
  });

  test('a released attempt (no comparison happened) gives its token back', () => {
    const limiter = new GuessLimiter({ maxGuesses: 1, windowSeconds: 60, now: () => 1_000 });
    const a = limiter.admit('svc', secretDigest('svc', 'x'));
    assert.ok(a.admitted);
    limiter.release(a.ticket);
    assert.equal(limiter.admit('svc', secretDigest('svc', 'y')).admitted, true);
  });

  test('what it remembers is a keyed digest bound to the Client, never the secret itself', () => {
    const d = secretDigest('svc', 'hunter2');
    assert.ok(!d.toString('latin1').includes('hunter2'));
    const unkeyed = crypto.createHash('sha256').update('svc\0hunter2').digest();
    assert.ok(!d.equals(unkeyed), 'keyed: not a plain hash anyone could recompute');
    assert.ok(!d.equals(secretDigest('other', 'hunter2')), 'the same secret for another Client is another guess');
  });

  test('a wrong secret not seen for a window is forgotten: trying it again costs a token again', () => {
    let now = 1_000_000;
    const limiter = new GuessLimiter({ maxGuesses: 1, windowSeconds: 60, now: () => now });
    assert.equal(attempt(limiter, 'svc', 'old-guess', false).admitted, true);
    assert.equal(attempt(limiter, 'svc', 'old-guess', false).admitted, true, 'a retry within the window is free');
    now += 61_000;
    assert.equal(attempt(limiter, 'svc', 'new-guess', false).admitted, true, 'the token came back');
    assert.equal(attempt(limiter, 'svc', 'old-guess', false).admitted, false, 'forgotten: a guess like any other');
  });

  test('memory is bounded', () => {
    const limiter = new GuessLimiter({ maxGuesses: 3, windowSeconds: 60, maxKeys: 100, maxRemembered: 8 });
    for (let i = 0; i < 1000; i++) attempt(limiter, `c${i}`, `g${i}`, false, `addr${i}`);
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

  test('compare equal and unequal values of any length, by their digests', () => {
    const same = (a: string, b: string) => sameDigest(secretDigest('svc', a), secretDigest('svc', b));
    assert.ok(same('same', 'same'));
    assert.ok(!same('same', 'samE'));
    assert.ok(!same('short', 'a much longer value'));
    assert.ok(!same('', 'x'));
    assert.ok(!sameDigest(secretDigest('svc', 'x'), Buffer.alloc(0)), 'a digest of another length is not equal');
  });
});
