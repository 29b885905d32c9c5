// User story: as an operator I set token lifetimes and audit rotation in Vault's own words ("5s", "24h", "64m"),
// and a value that makes no sense stops vault-init at start with the variable's name and a good example.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@aurora/common';
import { loadConfig } from '@aurora/vault-init/config';
import { auditSlot, slotOf } from '@aurora/vault-init/configure/audit';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, []);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
}

describe('vault-init lifetime and rotation settings', () => {
  test('defaults: 1 h tokens capped at 24 h, 5 files of 64 MiB, rotated daily', () => {
    const c = loadConfig({}, []);
    assert.deepEqual(c.approleTtls, { tokenTtl: 3600, tokenMaxTtl: 86_400 });
    assert.deepEqual(c.audit, { keepFiles: 5, rotateBytes: 64 * 1024 ** 2, rotateAgeSeconds: 86_400, checkMs: 10_000 });
    assert.equal(c.ownTokenPeriodSeconds, 3600);
  });

  test('durations in seconds, minutes or hours; sizes in bytes, k, m or g; age 0 turns age rotation off', () => {
    const c = loadConfig(
      {
        VAULT_APPROLE_TOKEN_TTL: '5s',
        VAULT_APPROLE_TOKEN_MAX_TTL: '15',
        VAULT_AUDIT_ROTATE_SIZE: '16k',
        VAULT_AUDIT_ROTATE_AGE: '0',
        VAULT_INIT_TOKEN_PERIOD: '90m',
      },
      [],
    );
    assert.deepEqual(c.approleTtls, { tokenTtl: 5, tokenMaxTtl: 15 });
    assert.equal(c.audit.rotateBytes, 16 * 1024);
    assert.equal(c.audit.rotateAgeSeconds, 0);
    assert.equal(c.ownTokenPeriodSeconds, 5400);
  });

  test('bad values name the variable and give an example', () => {
    assert.match(problems({ VAULT_APPROLE_TOKEN_TTL: '5 minutes' }).join('\n'), /VAULT_APPROLE_TOKEN_TTL=.*1h/);
    assert.match(
      problems({ VAULT_APPROLE_TOKEN_TTL: '2h', VAULT_APPROLE_TOKEN_MAX_TTL: '1h' }).join('\n'),
      /VAULT_APPROLE_TOKEN_MAX_TTL \(3600 s\) is shorter than VAULT_APPROLE_TOKEN_TTL \(7200 s\)/,
    );
    assert.match(problems({ VAULT_AUDIT_ROTATE_SIZE: '10' }).join('\n'), /VAULT_AUDIT_ROTATE_SIZE=.*4k to 1024g/);
    assert.match(problems({ VAULT_AUDIT_KEEP_FILES: '1' }).join('\n'), /VAULT_AUDIT_KEEP_FILES=.*from 2/);
  });

  test('the ring of audit files: the configured file, then .1, .2, ...', () => {
    const base = '/vault/logs/audit.log';
    assert.deepEqual(
      [0, 1, 2].map((i) => auditSlot(base, i)),
      [base, `${base}.1`, `${base}.2`],
    );
    assert.equal(slotOf(base, 3, `${base}.2`), 2);
    assert.equal(slotOf(base, 3, `${base}.3`), -1, 'outside the ring');
    assert.equal(slotOf(base, 3, '/elsewhere/audit.log'), -1);
  });
});
