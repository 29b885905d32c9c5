// User story: as an operator whose audit log disk fills up, I am told what is wrong — the app's 503, its /readyz
// and /status, and vault-init's health all say "Vault refuses requests: its audit log cannot be written — disk
// full?" instead of blaming the token — and when space returns, everything serves again without a restart.
// The audit log lives on a 1 MB tmpfs mounted in the test's own temp dir (needs root; skipped otherwise).
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AUDIT_LOG_DIAGNOSIS } from '@aurora/common';
import { tempDir, waitFor, CredentialsStack, VaultInitProcess } from '@aurora/process';
import { fieldFault } from '../faults/field-fault.js';

const { test } = fieldFault('vault-refuses-audit-disk-full', {
  fault: 'A Vault refusing service for a full audit disk, misdiagnosed',
  outcome:
    'the 503, /readyz and vault-init name the full audit log instead of the token; everything recovers by itself when space returns',
});

function mountTmpfs(dir: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs (needs root): ${(err as Error).message.split('\n')[0]}`;
  }
}

describe('a full audit log disk: named as such everywhere, and recovered from by itself', () => {
  const auditDir = tempDir('audit-tmpfs');
  const skip = mountTmpfs(auditDir);
  const filler = path.join(auditDir, 'filler');
  let stack: CredentialsStack;
  let initProc: VaultInitProcess;
  let n = 0;
  const put = () =>
    stack.request('PUT', `/users/full-${n++}/credentials/api`, { auth: 'writer', body: { data: { key: 'v' } } });
  const initHealth = async () => {
    const res = await fetch(`http://127.0.0.1:${stack.initEnv.VAULT_INIT_HEALTH_PORT}/health`);
    return { status: res.status, body: (await res.json()) as { vault_requests: string } };
  };

  before(async () => {
    if (skip) return;
    stack = await CredentialsStack.start({
      initEnv: { VAULT_AUDIT_FILE: path.join(auditDir, 'audit.log'), VAULT_WATCH_INTERVAL_MS: '200' },
    });
    initProc = VaultInitProcess.start(stack.initEnv);
    await waitFor(
      'vault-init healthy',
      async () => ((await initHealth().catch(() => undefined))?.status === 200 ? true : undefined),
      60_000,
      200,
    );
  });
  after(async () => {
    await initProc?.stop();
    await stack?.stop();
    if (!skip) execFileSync('umount', ['-l', auditDir]);
  });

  test('writes answer 503 naming the audit log; /readyz, /status and vault-init say the same', { skip }, async () => {
    // Leave a little room, then write until Vault refuses.
    const free = fs.statfsSync(auditDir);
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free.bavail * free.bsize - 48 * 1024)));
    const refused = await waitFor(
      'a write Vault refuses',
      async () => {
        const res = await put();
        if (res.status === 201 || res.status === 200) return undefined;
        return res;
      },
      120_000,
      0,
    );
    assert.equal(refused.status, 503, refused.text);
    const body = refused.json as { error: string; message: string };
    assert.equal(body.error, 'vault_refusing');
    assert.ok(body.message.startsWith(AUDIT_LOG_DIAGNOSIS), body.message);
    assert.ok(refused.headers.get('retry-after'));

    const ready = await fetch(`${stack.app.url}/readyz`);
    const readyBody = (await ready.json()) as { checks: Record<string, string> };
    assert.equal(ready.status, 503);
    assert.equal(readyBody.checks.vault_requests, `refusing: ${AUDIT_LOG_DIAGNOSIS}`);
    assert.doesNotMatch(readyBody.checks.vault_token!, /invalid/, 'the token is not blamed');

    const status = (await (await fetch(`${stack.app.url}/status`)).json()) as {
      vault: { requests: { status: string; diagnosis: string } };
    };
    assert.deepEqual(
      [status.vault.requests.status, status.vault.requests.diagnosis],
      ['refusing', AUDIT_LOG_DIAGNOSIS],
    );
    assert.match(stack.app.log(), /Vault refuses requests: its audit log cannot be written/);

    const health = await waitFor(
      'vault-init unhealthy',
      async () => {
        const h = await initHealth();
        return h.status === 503 ? h : undefined;
      },
      30_000,
      200,
    );
    assert.equal(health.body.vault_requests, AUDIT_LOG_DIAGNOSIS);
  });

  test('space returns: the app, /readyz and vault-init recover without a restart', { skip }, async () => {
    const appPid = stack.app.pid;
    fs.rmSync(filler);
    await waitFor('a write that succeeds', async () => ((await put()).status === 201 ? true : undefined), 60_000, 250);
    await stack.app.waitReady(30_000);
    await waitFor(
      'vault-init healthy again',
      async () => ((await initHealth()).status === 200 ? true : undefined),
      30_000,
      200,
    );
    assert.equal(stack.app.pid, appPid);
    assert.equal(initProc.child.exitCode, null);
    assert.match(stack.app.log(), /Vault serves authenticated requests again/);
  });
});
