// User story: a malformed SECRETS_CONFIG stops the app at start, and each malformed shape gets its own clear
// message naming the entry and the field, so the fix is obvious from the message alone.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '@aurora/common';
import { formatScope, loadSecretsConfig, parseSecretsConfig, scopeIncludes } from '@aurora/app/file-secrets/config';

function problemsOf(value: unknown): string[] {
  try {
    parseSecretsConfig(value, 'cfg');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the config to be refused');
}

const good = { path: '/run/vault-secrets/client-secret', scope: { resource_type: 'Client', id: 'basic' } };

describe('SECRETS_CONFIG', () => {
  test("the user's shape parses; scope.id is optional", () => {
    const cfg = parseSecretsConfig({
      secret: { 'client-secret': good, any: { path: '/s/any', scope: { resource_type: 'Client' } } },
    });
    const entry = cfg.secrets.get('client-secret');
    assert.deepEqual(entry, {
      name: 'client-secret',
      path: '/run/vault-secrets/client-secret',
      scope: { resourceType: 'Client', id: 'basic' },
    });
    assert.equal(formatScope(cfg.secrets.get('any')!.scope), 'Client/*');
    assert.ok(scopeIncludes(cfg.secrets.get('any')!.scope, 'Client', 'whoever'));
    assert.ok(scopeIncludes(entry!.scope, 'Client', 'basic'));
    assert.ok(!scopeIncludes(entry!.scope, 'Client', 'other'));
    assert.ok(!scopeIncludes(entry!.scope, 'Patient', 'basic'));
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ['not an object', ['x'], /cfg: \(top level\): must be a JSON object with a "secret" key, got an array/],
    ['no "secret" key', {}, /cfg: secret: missing/],
    ['"secret" is not an object', { secret: 'x' }, /cfg: secret: must be an object mapping secret names/],
    ['unknown top-level key', { secret: {}, secrets: {} }, /cfg: secrets: unknown top-level key/],
    [
      'entry is not an object',
      { secret: { a: 'x' } },
      /cfg: secret\["a"\]: must be an object with "path" and "scope", got a string/,
    ],
    ['bad name', { secret: { 'a/b': good } }, /cfg: secret\["a\/b"\]: the name must be/],
    ['path missing', { secret: { a: { scope: good.scope } } }, /cfg: secret\["a"\]\.path: missing/],
    [
      'path not a string',
      { secret: { a: { path: 7, scope: good.scope } } },
      /cfg: secret\["a"\]\.path: must be a non-empty string, got a number/,
    ],
    [
      'path relative',
      { secret: { a: { path: 'run/a', scope: good.scope } } },
      /cfg: secret\["a"\]\.path: must be an absolute path, got "run\/a"/,
    ],
    [
      'path is a directory',
      { secret: { a: { path: '/run/', scope: good.scope } } },
      /cfg: secret\["a"\]\.path: must name a file/,
    ],
    ['scope missing', { secret: { a: { path: '/a' } } }, /cfg: secret\["a"\]\.scope: missing/],
    [
      'scope not an object',
      { secret: { a: { path: '/a', scope: 'Client' } } },
      /cfg: secret\["a"\]\.scope: must be an object/,
    ],
    [
      'resource_type missing',
      { secret: { a: { path: '/a', scope: { id: 'basic' } } } },
      /cfg: secret\["a"\]\.scope\.resource_type: missing; required/,
    ],
    [
      'resource_type malformed',
      { secret: { a: { path: '/a', scope: { resource_type: 'client app' } } } },
      /cfg: secret\["a"\]\.scope\.resource_type: must be a resource type name/,
    ],
    [
      'id malformed',
      { secret: { a: { path: '/a', scope: { resource_type: 'Client', id: 5 } } } },
      /cfg: secret\["a"\]\.scope\.id: must be a resource id/,
    ],
    ['unknown entry field', { secret: { a: { ...good, pth: '/x' } } }, /cfg: secret\["a"\]\.pth: unknown field/],
    [
      'unknown scope field',
      { secret: { a: { path: '/a', scope: { ...good.scope, type: 'x' } } } },
      /cfg: secret\["a"\]\.scope\.type: unknown field/,
    ],
  ];
  for (const [name, value, message] of cases) {
    test(`${name}: its own message`, () => {
      const problems = problemsOf(value);
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, message);
    });
  }

  test('every problem is reported at once, each naming its entry', () => {
    const problems = problemsOf({ secret: { a: { path: 'rel', scope: good.scope }, b: { path: '/b' } } });
    assert.equal(problems.length, 2);
    assert.match(problems.join('\n'), /secret\["a"\]\.path/);
    assert.match(problems.join('\n'), /secret\["b"\]\.scope/);
  });

  test('the file: missing (when required), not JSON, and missing when not required', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-config-'));
    try {
      const missing = path.join(dir, 'nope.json');
      assert.throws(
        () => loadSecretsConfig(missing, true),
        (e: ConfigError) => /SECRETS_CONFIG=.*nope\.json: cannot read the file \(ENOENT\)/.test(e.message),
      );
      assert.equal(loadSecretsConfig(missing, false).secrets.size, 0);
      const bad = path.join(dir, 'bad.json');
      fs.writeFileSync(bad, '{"secret": ');
      assert.throws(
        () => loadSecretsConfig(bad, true),
        (e: ConfigError) => /bad\.json: not valid JSON/.test(e.message),
      );
      const ok = path.join(dir, 'ok.json');
      fs.writeFileSync(ok, JSON.stringify({ secret: { 'client-secret': good } }));
      assert.equal(loadSecretsConfig(ok, true).secrets.size, 1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
