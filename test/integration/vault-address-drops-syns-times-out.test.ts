// User story: a Vault address stops answering at the TCP level — a Kubernetes pod replaced under its old IP, a
// firewall that drops instead of refusing. The kernel retries the SYN for about a minute; the client must not
// wait for that. A call through the one Vault client ends within its own timeout, with the message that says
// Vault did not answer in time, exactly as when Vault stalls after the connect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '@aurora/process';

const PORT = 8200;

test('calls to an address that drops SYNs end at the client timeout, not the kernel connect timeout', (t) => {
  if (process.getuid?.() !== 0) {
    // A network namespace of its own, with an iptables rule in it, needs root.
    if (process.env.CI === 'true') assert.fail('CI=true: this story needs root (unshare --net, iptables)');
    t.skip('needs root: unshare --net and iptables');
    return;
  }
  // Everything happens in a network namespace this test creates: only its loopback, where SYNs to the port are
  // dropped. Nothing listens there, and nothing leaves the namespace.
  const script = path.join(repoRoot(), 'test/support/syn-drop-client.ts');
  const run = spawnSync(
    'unshare',
    [
      '--net',
      '--',
      'sh',
      '-c',
      `ip link set lo up && iptables -A INPUT -p tcp --dport ${PORT} --syn -j DROP && exec "$@"`,
      'sh',
      process.execPath,
      '--conditions=aurora-source',
      '--import',
      'tsx',
      script,
      `http://127.0.0.1:${PORT}`,
    ],
    { cwd: repoRoot(), encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(run.status, 0, `the client in the namespace failed: ${run.stderr}${run.stdout}`);
  const results = run.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { call: string; ms: number; error: string });
  assert.equal(results.length, 2, run.stdout);
  for (const r of results) {
    // 1 s timeout: well under the kernel's minute, with room for a busy machine.
    assert.ok(r.ms < 10_000, `${r.call} took ${r.ms} ms (the kernel's SYN retries, not the client timeout)`);
    assert.match(
      r.error,
      /^VaultUnreachableError: .*did not answer .* in time \(no answer from Vault within 1000 ms\)/,
    );
  }
});
