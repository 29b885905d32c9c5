// User story: a developer keeps `vault:` references in a .env file and runs any program with
// `aurora-secrets run --env-file .env -- <command>`: each reference becomes its value in the program's
// environment (`#key` picks a key; without it the secret's only key), plain values pass through untouched,
// and a reference to a key that is not there stops everything before the program starts, naming the
// variable. `resolve` prints one value for scripts; `check` lists each reference's state without values.
// The CLI logs in as the app does (AppRole files), or with the token helper file, or VAULT_TOKEN.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CliVault, childScript, runCli } from '../support/cli.js';
import { tempDir } from '@aurora/process';

const canary = (label: string) => `${label}-${crypto.randomBytes(12).toString('base64url')}`;

describe('aurora-secrets run resolves the vault: references of an env file', () => {
  let stack: CliVault;
  let dir: string;
  let envFile: string;
  /** A program that writes the variables it was given to the file named by its first argument. */
  let dumpEnv: string;
  const values = {
    token: canary('ghp'),
    login: canary('login'),
    dbPassword: canary('pg'),
    clientSecret: canary('cs'),
  };

  before(async () => {
    stack = await CliVault.start();
    await stack.operator.kvWrite('aurora', 'users/u1/github', { token: values.token, login: values.login });
    await stack.operator.kvWrite('aurora', 'users/u1/db', { password: values.dbPassword });
    await stack.operator.kvWrite('secret', 'aidbox/client', { 'client-secret': values.clientSecret });
    dir = tempDir('cli-env');
    envFile = path.join(dir, '.env');
    fs.writeFileSync(
      envFile,
      [
        '# references and plain values side by side',
        '# a #key must be quoted: dotenv reads an unquoted # as a comment',
        'GITHUB_TOKEN="vault:kv/data/aurora/users/u1/github#token"',
        'DB_PASSWORD=vault:kv/data/aurora/users/u1/db',
        'CLIENT_SECRET="vault:kv/data/secret/aidbox/client#client-secret"',
        'PLAIN=hello world',
        'LOOKS_LIKE_VAULT=not vault:kv/data/aurora/x',
        'OVERRIDDEN=from-file',
        '',
      ].join('\n'),
    );
    dumpEnv = childScript(
      'dump-env.mjs',
      `import fs from 'node:fs';
       const names = ['GITHUB_TOKEN', 'DB_PASSWORD', 'CLIENT_SECRET', 'PLAIN', 'LOOKS_LIKE_VAULT', 'OVERRIDDEN', 'LATER'];
       fs.writeFileSync(process.argv[2], JSON.stringify(Object.fromEntries(names.map((n) => [n, process.env[n] ?? null]))));
       console.log('started');`,
    );
  });
  after(async () => {
    await stack?.stop();
  });

  const outFile = () => path.join(tempDir('cli-out'), 'env.json');
  const readOut = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string | null>;

  test('every reference is resolved with the app identity; plain values and the current environment win', async () => {
    const later = path.join(dir, 'later.env');
    fs.writeFileSync(later, 'LATER=from-later-file\nPLAIN=hello world\n');
    const out = outFile();
    const res = await runCli(['run', '--env-file', envFile, '--env-file', later, '--', 'node', dumpEnv, out], {
      ...stack.appEnv(),
      OVERRIDDEN: 'from-environment',
    });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(readOut(out), {
      GITHUB_TOKEN: values.token,
      DB_PASSWORD: values.dbPassword,
      CLIENT_SECRET: values.clientSecret,
      PLAIN: 'hello world',
      LOOKS_LIKE_VAULT: 'not vault:kv/data/aurora/x',
      OVERRIDDEN: 'from-environment',
      LATER: 'from-later-file',
    });
    assert.match(res.stdout, /started/);
    for (const v of Object.values(values)) assert.ok(!res.stdout.includes(v) && !res.stderr.includes(v));
  });

  test('a reference in the environment itself is resolved too, with the token helper file (~/.vault-token)', async () => {
    const home = tempDir('cli-home');
    fs.copyFileSync(path.join(stack.dirs.cliDir, '.vault-token'), path.join(home, '.vault-token'));
    const out = outFile();
    const res = await runCli(
      ['run', '--', 'node', dumpEnv, out],
      { VAULT_ADDR: stack.vault.addr, GITHUB_TOKEN: 'vault:kv/data/aurora/users/u1/github#login' },
      { home },
    );
    assert.equal(res.code, 0, res.stderr);
    assert.equal(readOut(out).GITHUB_TOKEN, values.login);
  });

  test('without #key a secret with several keys is refused, naming the keys to choose from', async () => {
    const marker = outFile();
    const res = await runCli(['run', '--', 'node', dumpEnv, marker], {
      ...stack.appEnv(),
      GITHUB_TOKEN: 'vault:kv/data/aurora/users/u1/github',
    });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /GITHUB_TOKEN: .*names no key and the secret has 2 \((token, login|login, token)\)/);
    assert.match(res.stderr, /vault:kv\/data\/aurora\/users\/u1\/github#(token|login)/);
    assert.match(res.stderr, /nothing was started/);
    assert.equal(fs.existsSync(marker), false, 'the command must not have run');
  });

  test('a key that is not there stops the run, unless --allow-missing starts it without that variable', async () => {
    const env = { ...stack.appEnv(), DB_PASSWORD: 'vault:kv/data/aurora/users/u1/db#nope' };
    const marker = outFile();
    const res = await runCli(['run', '--', 'node', dumpEnv, marker], env);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /DB_PASSWORD: the secret "vault:kv\/data\/aurora\/users\/u1\/db" .*has no key "nope"/);
    assert.match(res.stderr, /its keys: password/);
    assert.match(res.stderr, /--allow-missing/);
    assert.equal(fs.existsSync(marker), false);

    const out = outFile();
    const allowed = await runCli(['run', '--allow-missing', '--', 'node', dumpEnv, out], env);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(readOut(out).DB_PASSWORD, null);
    assert.match(allowed.stderr, /warning: DB_PASSWORD: .*starting without DB_PASSWORD/);
  });

  test('an unquoted #key in an env file is refused with the quoted form to write, before Vault is asked', async () => {
    const unquoted = path.join(dir, 'unquoted.env');
    fs.writeFileSync(unquoted, 'GITHUB_TOKEN=vault:kv/data/aurora/users/u1/github#token\n');
    const marker = outFile();
    const res = await runCli(['run', '--env-file', unquoted, '--', 'node', dumpEnv, marker], stack.appEnv());
    assert.equal(res.code, 2);
    assert.match(res.stderr, /GITHUB_TOKEN: dotenv reads the unquoted "#token" as a comment/);
    assert.match(res.stderr, /quote the value: GITHUB_TOKEN="vault:kv\/data\/aurora\/users\/u1\/github#token"/);
    assert.equal(fs.existsSync(marker), false);
  });

  test('resolve prints exactly one value for scripts', async () => {
    const res = await runCli(['resolve', 'vault:kv/data/aurora/users/u1/github#token'], stack.appEnv());
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, values.token);
    const only = await runCli(['resolve', 'vault:kv/data/aurora/users/u1/db'], {
      VAULT_ADDR: stack.vault.addr,
      VAULT_TOKEN: stack.operator.token,
    });
    assert.equal(only.stdout, values.dbPassword);
    const missing = await runCli(['resolve', 'vault:kv/data/aurora/users/u1/none#x'], stack.appEnv());
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nothing is stored at "vault:kv\/data\/aurora\/users\/u1\/none#x"/);
    assert.equal(missing.stdout, '');
  });

  test('check lists found / not found / denied for each reference, without values', async () => {
    const checkFile = path.join(dir, 'check.env');
    fs.writeFileSync(
      checkFile,
      [
        'GITHUB_TOKEN="vault:kv/data/aurora/users/u1/github#token"',
        "GONE='vault:kv/data/aurora/users/u1/gone#x'",
        'PRIVATE="vault:kv/data/aurora/private/ops#key"',
        'PLAIN=hello',
      ].join('\n'),
    );
    const res = await runCli(['check', '--env-file', checkFile], stack.appEnv());
    assert.equal(res.code, 2, res.stderr);
    const lines = res.stdout.split('\n');
    assert.ok(
      lines.some((l) =>
        /^GITHUB_TOKEN\s+found \(version 1\)\s+vault:kv\/data\/aurora\/users\/u1\/github#token$/.test(l),
      ),
    );
    assert.ok(
      lines.some((l) => /^GONE\s+not found\s+vault:/.test(l)),
      res.stdout,
    );
    assert.ok(
      lines.some((l) => /^PRIVATE\s+denied\s+vault:/.test(l)),
      res.stdout,
    );
    assert.ok(!res.stdout.includes('PLAIN'));
    for (const v of Object.values(values)) assert.ok(!res.stdout.includes(v) && !res.stderr.includes(v));
  });
});
