// User story: as a maintainer I can read, without starting any server, how the resolver cache evicts and
// expires entries, and exactly which credential bodies and If-Match headers the API accepts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '@aurora/common';
import { TtlLruCache } from '@aurora/app/cache';
import { MAX_FIELDS, parseCredentialBody, parseIfMatch } from '@aurora/app/credentials/routes';

describe('TtlLruCache', () => {
  test('evicts the least recently used entry when full', () => {
    const cache = new TtlLruCache<string, number>(2, 1000);
    cache.set('a', 1);
    cache.set('b', 2);
    assert.equal(cache.get('a'), 1); // a is now the most recently used
    cache.set('c', 3);
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('a'), 1);
    assert.equal(cache.get('c'), 3);
    assert.equal(cache.size, 2);
  });

  test('expires entries after the TTL, and stores nothing with TTL 0', () => {
    let now = 0;
    const cache = new TtlLruCache<string, number>(10, 100, () => now);
    cache.set('a', 1);
    now = 99;
    assert.equal(cache.get('a'), 1);
    now = 100;
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.size, 0);
    const off = new TtlLruCache<string, number>(10, 0);
    off.set('a', 1);
    assert.equal(off.get('a'), undefined);
    assert.equal(off.enabled, false);
  });

  test('delete and clear forget at once', () => {
    const cache = new TtlLruCache<string, number>(10, 1000);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.delete('a');
    assert.equal(cache.get('a'), undefined);
    cache.clear();
    assert.equal(cache.get('b'), undefined);
  });
});

describe('credential body and If-Match', () => {
  const rejects = (body: unknown, field: RegExp) =>
    assert.throws(
      () => parseCredentialBody(body),
      (err: unknown) => err instanceof ValidationError && field.test(err.message),
    );

  test('accepts string fields, multi-line values and field names with . _ -', () => {
    const data = parseCredentialBody({
      data: { token: 'x', 'client.id_2-b': '-----BEGIN KEY-----\nabc\n-----END KEY-----' },
    });
    assert.deepEqual({ ...data }, { token: 'x', 'client.id_2-b': '-----BEGIN KEY-----\nabc\n-----END KEY-----' });
    assert.equal(Object.getPrototypeOf(data), null);
  });

  test('refuses everything else, naming the field and never the value', () => {
    rejects(undefined, /^body: /);
    rejects([], /^body: /);
    rejects({ data: { a: 'v' }, other: 'secret-value' }, /^body: unknown field "other"/);
    rejects({}, /^data: is required/);
    rejects({ data: {} }, /^data: must have at least one field/);
    rejects(
      { data: Object.fromEntries(Array.from({ length: MAX_FIELDS + 1 }, (_, i) => [`k${i}`, 'v'])) },
      /^data: has 65 fields/,
    );
    rejects({ data: { 'a/b': 'secret-value' } }, /^data: field name "a\/b"/);
    rejects({ data: { k: 5 } }, /^data\.k: must be a string, not number/);
    rejects({ data: { k: 'x'.repeat(8193) } }, /^data\.k: is 8193 bytes/);
    rejects({ data: { k: '\ud800' } }, /^data\.k: is not valid Unicode/);
    assert.throws(
      () => parseCredentialBody({ data: { 'bad key': 'secret-value' } }),
      (err: Error) => !err.message.includes('secret-value'),
    );
  });

  test('If-Match: a version number, bare or quoted; anything else is a 400', () => {
    assert.equal(parseIfMatch(undefined), undefined);
    assert.equal(parseIfMatch('3'), 3);
    assert.equal(parseIfMatch('"3"'), 3);
    assert.equal(parseIfMatch('0'), 0);
    for (const bad of ['', '*', '-1', '1.5', 'abc', '1, 2', '9999999999'])
      assert.throws(() => parseIfMatch(bad), /^ValidationError|If-Match/);
  });
});
