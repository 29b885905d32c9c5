// User story: a program run by `aurora-secrets run` prints a secret it was given — whole, in pieces across
// several writes (even one byte at a time, with pauses between), or on stderr — and the terminal shows
// `<redacted:NAME>` instead: the clear value never reaches the captured output. `--no-mask` turns this off
// for the rare program whose output must be byte-exact.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { CliVault, childScript, runCli } from '../support/cli.js';

describe('aurora-secrets run masks resolved values in the child output', () => {
  let stack: CliVault;
  // A multi-byte character in the middle: the masker works on bytes, so a split inside it must not matter.
  const token = `ghp-${crypto.randomBytes(10).toString('hex')}-ü-${crypto.randomBytes(6).toString('hex')}`;
  const password = `pg-${crypto.randomBytes(16).toString('base64url')}`;
  let env: Record<string, string>;

  before(async () => {
    stack = await CliVault.start();
    await stack.operator.kvWrite('aurora', 'users/u1/github', { token });
    await stack.operator.kvWrite('aurora', 'users/u1/db', { password });
    env = {
      ...stack.appEnv(),
      GITHUB_TOKEN: 'vault:kv/data/aurora/users/u1/github#token',
      DB_PASSWORD: 'vault:kv/data/aurora/users/u1/db#password',
    };
  });
  after(async () => {
    await stack?.stop();
  });

  const assertNoClearValue = (output: string) => {
    assert.ok(!output.includes(token), `the token leaked:\n${output}`);
    assert.ok(!output.includes(password), `the password leaked:\n${output}`);
    // Nor a large piece of either.
    assert.ok(!output.includes(token.slice(0, 14)) && !output.includes(password.slice(3, 17)), output);
  };

  test('a value printed whole on stdout and on stderr', async () => {
    const script = childScript(
      'print.mjs',
      `console.log('token=' + process.env.GITHUB_TOKEN + ' and password=' + process.env.DB_PASSWORD);
       console.error('stderr: ' + process.env.DB_PASSWORD);`,
    );
    const res = await runCli(['run', '--', 'node', script], env);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'token=<redacted:GITHUB_TOKEN> and password=<redacted:DB_PASSWORD>\n');
    assert.match(res.stderr, /^stderr: <redacted:DB_PASSWORD>$/m);
    assertNoClearValue(res.stdout + res.stderr);
  });

  test('a value split across writes, with pauses between them, on both streams', async () => {
    const script = childScript(
      'split.mjs',
      `const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
       const write = (stream, data) => new Promise((r) => stream.write(data, r));
       const t = Buffer.from(process.env.GITHUB_TOKEN);
       const p = process.env.DB_PASSWORD;
       await write(process.stdout, 'before ' + p.slice(0, 5));
       await sleep(300);
       await write(process.stdout, p.slice(5, 12));
       await sleep(300);
       await write(process.stdout, p.slice(12) + ' after\\n');
       // One byte per write, splitting the two-byte character too.
       for (const b of t) { await write(process.stderr, Buffer.from([b])); await sleep(5); }
       await write(process.stderr, '\\n');
       // A value that stops short is not a value: it comes out as it was.
       await write(process.stdout, 'prefix-only ' + p.slice(0, 6));`,
    );
    const res = await runCli(['run', '--', 'node', script], env);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `before <redacted:DB_PASSWORD> after\nprefix-only ${password.slice(0, 6)}`);
    assert.match(res.stderr, /^<redacted:GITHUB_TOKEN>$/m);
    assertNoClearValue(res.stdout + res.stderr);
  });

  test('--no-mask passes the output through untouched', async () => {
    const script = childScript('plain.mjs', `process.stdout.write(process.env.DB_PASSWORD);`);
    const res = await runCli(['run', '--no-mask', '--', 'node', script], env);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, password);
  });
});
