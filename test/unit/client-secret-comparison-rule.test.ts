// User story: one rule turns a stored Client secret into the value compared, whatever stores it: a trailing
// run of CR/LF is ignored, nothing else is removed, both sides are compared in NFC; odd stored values are
// named (never shown) for the log. Also the calendar check for FHIR dates and the URL-safe id rule.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ComparableSecret,
  comparablePresentedSecret,
  comparableStoredSecret,
  MAX_PRESENTED_SECRET_LENGTH,
  sameDigest,
  secretDigest,
  storedSecretOddities,
} from '@aurora/app/auth/client-secret-rule';
import { isRealCalendarDate } from '@aurora/app/fhir/calendar-date';
import { assertResourceId, isResourceId } from '@aurora/app/fhir/resource-id';

describe('the Client secret comparison rule', () => {
  test('a trailing run of CR/LF is ignored, nothing else', () => {
    for (const stored of ['tr41ling\n', 'tr41ling\r\n', 'tr41ling\n\n', 'tr41ling\r', 'tr41ling'])
      assert.equal(comparableStoredSecret(stored), 'tr41ling', JSON.stringify(stored));
    assert.equal(comparableStoredSecret('tr41ling '), 'tr41ling ');
    assert.equal(comparableStoredSecret(' tr41ling'), ' tr41ling');
    assert.equal(comparableStoredSecret('\uFEFFtr41ling'), '\uFEFFtr41ling');
    assert.equal(comparableStoredSecret('a\nb\n'), 'a\nb');
    assert.equal(comparableStoredSecret('tr41ling \n'), 'tr41ling ');
  });

  test('NFC on both sides: a decomposed stored secret matches a composed password and the reverse', () => {
    const composed = 'p\u00e4ss';
    const decomposed = 'pa\u0308ss';
    assert.equal(comparableStoredSecret(decomposed), comparablePresentedSecret(composed));
    assert.equal(comparableStoredSecret(composed), comparablePresentedSecret(decomposed));
  });

  test('oddities are named without the value', () => {
    assert.deepEqual(storedSecretOddities('fine'), []);
    assert.deepEqual(storedSecretOddities('x\n'), ['trailing CR/LF (ignored)']);
    assert.deepEqual(storedSecretOddities('x '), ['trailing whitespace other than CR/LF (kept)']);
    assert.deepEqual(storedSecretOddities(' x'), ['leading whitespace (kept)']);
    assert.deepEqual(storedSecretOddities('\uFEFFx'), ['a byte order mark at the start (kept)']);
    assert.ok(storedSecretOddities('a\nb').includes('CR/LF inside the value (kept)'));
    for (const s of ['x\n', ' x', '\uFEFFx'])
      for (const line of storedSecretOddities(s)) assert.ok(!line.includes('x'));
  });

  test('ASCII passwords skip the normalizer and compare as NFC would', () => {
    for (const p of ['plain', 'with space', 'ctl\u0001', ''])
      assert.equal(comparablePresentedSecret(p), p.normalize('NFC'), JSON.stringify(p));
    assert.equal(comparablePresentedSecret('pa\u0308ss'), 'p\u00e4ss');
  });

  test('a stored value too long for any password to match is named', () => {
    const long = 'y'.repeat(MAX_PRESENTED_SECRET_LENGTH + 1);
    assert.ok(storedSecretOddities(long).some((line) => line.startsWith(`longer than ${MAX_PRESENTED_SECRET_LENGTH}`)));
    assert.deepEqual(storedSecretOddities(`${'y'.repeat(MAX_PRESENTED_SECRET_LENGTH)}\n`), [
      'trailing CR/LF (ignored)',
    ]);
  });

  test('a stored secret is compared by its digest for each Client that uses it', () => {
    const stored = new ComparableSecret('pa\u0308ss\r\n');
    const digest = (client: string, password: string) => secretDigest(client, comparablePresentedSecret(password));
    assert.ok(sameDigest(stored.digestFor('svc'), digest('svc', 'p\u00e4ss')));
    assert.ok(sameDigest(stored.digestFor('other'), digest('other', 'pa\u0308ss')), 'a shared file secret');
    assert.ok(!sameDigest(stored.digestFor('svc'), digest('other', 'p\u00e4ss')), 'bound to the Client');
    assert.ok(
      !sameDigest(stored.digestFor('svc'), digest('svc', 'p\u00e4ss\n')),
      'the newline is not ignored when sent',
    );
    assert.equal(stored.digestFor('svc'), stored.digestFor('svc'), 'made once per Client');
  });
});

describe('FHIR dates are real calendar dates', () => {
  test('valid and partial dates pass, impossible ones do not', () => {
    for (const ok of [
      '1980',
      '1980-02',
      '1980-02-29',
      '2000-02-29',
      '2021-02-28T23:59:59Z',
      '2021-01-01T00:00:00+14:00',
    ])
      assert.equal(isRealCalendarDate(ok), true, ok);
    for (const bad of [
      '1980-02-30',
      '1981-02-29',
      '1900-02-29',
      '2021-04-31',
      '2021-13',
      '2021-00-10',
      '2021-02-29T00:00:00Z',
      '2021-01-01T24:00:00Z',
      '2021-01-01T10:61:00Z',
    ])
      assert.equal(isRealCalendarDate(bad), false, bad);
  });
});

describe('resource ids round-trip through a URL', () => {
  test('FHIR ids except the dot-segments', () => {
    for (const ok of ['p1', 'a.b', '...', 'A-1', 'x'.repeat(64)]) assert.equal(isResourceId(ok), true, ok);
    for (const bad of ['.', '..', '', 'a/b', 'a b', 'x'.repeat(65), '%2e']) assert.equal(isResourceId(bad), false, bad);
    assert.throws(() => assertResourceId('id', '..'), /^ValidationError: id: must not be "\.\."|id: must not be/);
  });
});
