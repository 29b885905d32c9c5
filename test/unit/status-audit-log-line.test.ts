// User story: as an operator I run `make status` and its audit-log line says what I can do about the audit log.
// A file vault-init measures: its size, a warning past 1 GiB. Vault's own output (the HA profile, Kubernetes):
// fine, the container runtime keeps and rotates it, and there is no file for anyone to measure. A file vault-init
// is told about but cannot see: a warning that says so and how to fix it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScrape } from '@aurora/process';
import { auditLogLine } from '../../scripts/ops/status.js';

const scrape = (...lines: string[]) => parseScrape(lines.join('\n') + '\n');

describe("make status: the audit log's line", () => {
  test("on Vault's output: ok, and no size to report", () => {
    const line = auditLogLine(scrape('aurora_vault_audit_log_info{destination="stdout"} 1'));
    assert.equal(line.level, 'ok');
    assert.match(line.summary, /Vault's output.*container runtime/);
    assert.equal(line.fix, undefined);
  });

  test('a ring of files vault-init sees: their total size and the rotations', () => {
    const line = auditLogLine(
      scrape(
        'aurora_vault_audit_log_info{destination="/vault/logs/audit.log"} 1',
        'aurora_vault_audit_log_bytes{file="/vault/logs/audit.log"} 1048576',
        'aurora_vault_audit_log_bytes{file="/vault/logs/audit.log.1"} 1048576',
        'aurora_vault_audit_log_rotations_total 1',
      ),
    );
    assert.deepEqual(line, { id: 'audit-log', level: 'ok', summary: '2.0 MiB, 1 rotation(s)' });
  });

  test('over 1 GiB: a warning that says how to make room', () => {
    const line = auditLogLine(
      scrape(
        'aurora_vault_audit_log_info{destination="/vault/logs/audit.log"} 1',
        `aurora_vault_audit_log_bytes{file="/vault/logs/audit.log"} ${2 * 1024 ** 3}`,
      ),
    );
    assert.equal(line.level, 'warn');
    assert.match(line.fix ?? '', /rotate it/);
  });

  test('a file vault-init cannot see: a warning naming the file and the two ways out', () => {
    const line = auditLogLine(scrape('aurora_vault_audit_log_info{destination="/vault/logs/audit.log"} 1'));
    assert.equal(line.level, 'warn');
    assert.match(line.summary, /cannot see \/vault\/logs\/audit\.log/);
    assert.match(line.fix ?? '', /mount the audit log's volume into vault-init, or set VAULT_AUDIT_FILE=stdout/);
  });

  test('vault-init not answering: unknown, a warning (its own line says why it is down)', () => {
    const line = auditLogLine(undefined);
    assert.equal(line.level, 'warn');
    assert.match(line.summary, /vault-init does not answer/);
  });
});
