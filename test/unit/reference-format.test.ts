// User story: PostgreSQL holds `vault:kv/data/<mount>/<base>/<user_id>/<credential_type>` and nothing else;
// format and parse are exact inverses, and anything that is not one safe path segment is refused by name.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  REFERENCE_PREFIX,
  ValidationError,
  assertSegment,
  formatCredentialReference,
  parseCredentialReference,
  parseVaultReference,
} from '@aurora/common';

const segmentChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@'.split(''));
const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''));
const segment = fc
  .tuple(alnum, fc.array(segmentChar, { maxLength: 40 }))
  .map(([h, t]) => h + t.join(''))
  .filter((s) => !s.includes('..'));
const base = fc.array(segment, { minLength: 1, maxLength: 3 }).map((a) => a.join('/'));

describe('the vault: reference format', () => {
  test('the documented default shape', () => {
    const ref = formatCredentialReference({
      mount: 'aurora',
      base: 'users',
      userId: 'alice',
      credentialType: 'github',
    });
    assert.equal(ref, 'vault:kv/data/aurora/users/alice/github');
    assert.ok(ref.startsWith(REFERENCE_PREFIX));
  });

  test('parse(format(x)) = x and format(parse(s)) = s for every valid reference', () => {
    fc.assert(
      fc.property(segment, base, segment, segment, (mount, b, userId, credentialType) => {
        const ref = { mount, base: b, userId, credentialType };
        const text = formatCredentialReference(ref);
        assert.deepEqual(parseCredentialReference(text), ref);
        assert.equal(formatCredentialReference(parseCredentialReference(text)), text);
      }),
      { numRuns: 2000 },
    );
  });

  test('the mount is named in the reference, so changing VAULT_KV_MOUNT does not re-point it', () => {
    assert.deepEqual(parseVaultReference('vault:kv/data/legacy/users/bob/aws'), {
      mount: 'legacy',
      path: 'users/bob/aws',
    });
  });

  const badSegments: Array<[string, unknown]> = [
    ['empty', ''],
    ['slash', 'a/b'],
    ['dot-dot', '..'],
    ['dot-dot inside', 'a..b'],
    ['leading dot', '.hidden'],
    ['control character', 'a\u0000b'],
    ['newline', 'a\nb'],
    ['space', 'a b'],
    ['percent-encoded slash', 'a%2Fb'],
    ['unicode', 'ünïcode'],
    ['too long', 'a'.repeat(129)],
    ['not a string', 42],
    ['question mark', 'a?b'],
    ['hash', 'a#b'],
  ];
  for (const [name, value] of badSegments) {
    test(`a ${name} segment is refused with a message naming the field`, () => {
      assert.throws(
        () => assertSegment('user_id', value),
        (err: unknown) => {
          assert.ok(err instanceof ValidationError);
          assert.equal(err.status, 400);
          assert.match(err.message, /^user_id: /);
          return true;
        },
      );
    });
  }

  for (const text of [
    '',
    'vault:',
    'vault:kv/data/',
    'vault:kv/data/aurora',
    'vault:kv/data/aurora/',
    'kv/data/aurora/users/a/b',
    'vault:kv/metadata/aurora/users/a/b',
    'vault:kv/data/aurora/users/../b',
    'vault:kv/data/aurora//a/b',
    'vault:kv/data/aurora/users/a',
  ]) {
    test(`${JSON.stringify(text)} is not a credential reference`, () => {
      assert.throws(() => parseCredentialReference(text), ValidationError);
    });
  }
});
