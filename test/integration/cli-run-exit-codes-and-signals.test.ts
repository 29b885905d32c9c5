// User story: `aurora-secrets run -- <command>` behaves like the command itself to whoever started it: the
// command's exit code is the CLI's (3 stays 3), SIGTERM to the CLI stops the command (a process manager's
// `stop` works through the wrapper), stdin reaches the command, a signal that kills the command shows as
// 128+N, and a command that does not exist is 127 with a message.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CliProcess, CliVault, childScript, runCli } from '../support/cli.js';
import { pidAlive, tempDir, waitFor } from '@aurora/process';

describe('aurora-secrets run passes exit codes, signals and stdin through', () => {
  let stack: CliVault;
  let env: Record<string, string>;
  const password = `pg-${crypto.randomBytes(16).toString('base64url')}`;

  before(async () => {
    stack = await CliVault.start();
    await stack.operator.kvWrite('aurora', 'users/u1/db', { password });
    env = { ...stack.appEnv(), DB_PASSWORD: 'vault:kv/data/aurora/users/u1/db#password' };
  });
  after(async () => {
    await stack?.stop();
  });

  test("the child's exit 3 becomes the CLI's 3", async () => {
    const script = childScript('exit3.mjs', `process.exitCode = process.env.DB_PASSWORD ? 3 : 1;`);
    const res = await runCli(['run', '--', 'node', script], env);
    assert.equal(res.code, 3, res.stderr);
  });

  test('SIGTERM to the CLI reaches the child, which stops; the CLI exits with its code', async () => {
    const dir = tempDir('cli-sigterm');
    const script = childScript(
      'graceful.mjs',
      `import fs from 'node:fs';
       fs.writeFileSync(process.argv[2] + '/pid', String(process.pid));
       process.on('SIGTERM', () => { fs.writeFileSync(process.argv[2] + '/got', 'SIGTERM'); process.exit(0); });
       setInterval(() => {}, 1000);`,
    );
    const cli = new CliProcess(['run', '--', 'node', script, dir], env);
    const pid = Number(await waitFor('the child to start', () => fs.readFileSync(path.join(dir, 'pid'), 'utf8')));
    cli.child.kill('SIGTERM');
    const res = await cli.result();
    assert.equal(res.code, 0, res.stderr);
    assert.equal(fs.readFileSync(path.join(dir, 'got'), 'utf8'), 'SIGTERM');
    assert.equal(pidAlive(pid), false);
  });

  test('a child without a SIGTERM handler dies of it: the CLI exits 143 (128 + 15)', async () => {
    const dir = tempDir('cli-sigterm-default');
    const script = childScript(
      'plain.mjs',
      `import fs from 'node:fs'; fs.writeFileSync(process.argv[2] + '/pid', String(process.pid)); setInterval(() => {}, 1000);`,
    );
    const cli = new CliProcess(['run', '--', 'node', script, dir], env);
    const pid = Number(await waitFor('the child to start', () => fs.readFileSync(path.join(dir, 'pid'), 'utf8')));
    cli.child.kill('SIGTERM');
    const res = await cli.result();
    assert.equal(res.code, 143);
    assert.equal(pidAlive(pid), false);
  });

  test('stdin reaches the child', async () => {
    const script = childScript(
      'upper.mjs',
      `let s = ''; process.stdin.on('data', (d) => (s += d)); process.stdin.on('end', () => process.stdout.write(s.toUpperCase()));`,
    );
    const res = await runCli(['run', '--', 'node', script], env, { input: 'hello from stdin\n' });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'HELLO FROM STDIN\n');
  });

  test('a command that does not exist: 127 and a message naming it', async () => {
    const res = await runCli(['run', '--', 'no-such-command-aurora'], env);
    assert.equal(res.code, 127);
    assert.match(res.stderr, /command not found: no-such-command-aurora/);
    assert.ok(!res.stderr.includes(password));
  });
});
