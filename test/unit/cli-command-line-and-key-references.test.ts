// User story: `aurora-secrets run --env-file .env --watch -- node server.js --port 3000` means exactly what it
// says — the CLI's options before `--`, the command and its own options after it, untouched — and a
// reference names one key with `#key` (or none: the only key); anything else is refused by name.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError, formatVaultKeyReference, parseVaultKeyReference } from '@aurora/common';
import { parseCommandLine, parseDuration, parseSignal } from '@aurora/cli/args';
import { CliError } from '@aurora/cli/cli-error';

describe('vault: references with a key', () => {
  test('#key and the only-key form', () => {
    assert.deepEqual(parseVaultKeyReference('vault:kv/data/aurora/users/u1/github#token'), {
      mount: 'aurora',
      path: 'users/u1/github',
      key: 'token',
    });
    assert.deepEqual(parseVaultKeyReference('vault:kv/data/secret/aidbox/client'), {
      mount: 'secret',
      path: 'aidbox/client',
    });
    assert.equal(
      formatVaultKeyReference({ mount: 'secret', path: 'aidbox/client', key: 'client-secret' }),
      'vault:kv/data/secret/aidbox/client#client-secret',
    );
  });

  test('bad keys, traversal and odd characters are refused naming the part', () => {
    for (const [text, part] of [
      ['vault:kv/data/aurora/x#', /key/],
      ['vault:kv/data/aurora/x#a#b', /key/],
      ['vault:kv/data/aurora/x#../y', /key/],
      ['vault:kv/data/aurora/../x#k', /path/],
      ['vault:kv/data/aurora/a b#k', /path/],
      ['vault:kv/data/..#k', /must be/],
      ['vault:kv/aurora/x#k', /must start with/],
    ] as const) {
      assert.throws(
        () => parseVaultKeyReference(text),
        (err: unknown) => err instanceof ValidationError && part.test(err.message),
        text,
      );
    }
  });
});

describe('the aurora-secrets command line', () => {
  test('run: options before --, the command and its options after it', () => {
    const parsed = parseCommandLine([
      'run',
      '--env-file',
      '.env',
      '-e',
      'more.env',
      '--watch',
      '--interval',
      '2s',
      '--signal',
      'hup',
      '--',
      'node',
      'server.js',
      '--port',
      '3000',
    ]);
    assert.deepEqual(parsed, {
      command: 'run',
      options: {
        envFiles: ['.env', 'more.env'],
        command: 'node',
        args: ['server.js', '--port', '3000'],
        mask: true,
        allowMissing: false,
        watch: { intervalMs: 2000, action: { kind: 'signal', signal: 'SIGHUP' } },
        stopTimeoutMs: 10_000,
      },
    });
  });

  test('run without --: the first word that is not an option starts the command', () => {
    const parsed = parseCommandLine(['run', '--no-mask', 'psql', '-c', 'select 1']);
    assert.equal(parsed.command, 'run');
    if (parsed.command !== 'run') return;
    assert.deepEqual([parsed.options.command, ...parsed.options.args], ['psql', '-c', 'select 1']);
    assert.equal(parsed.options.mask, false);
    assert.equal(parsed.options.watch, undefined);
  });

  test('bad usage is a CliError (exit 2) saying what to write', () => {
    for (const argv of [
      ['run'],
      ['run', '--'],
      ['run', '--bogus', '--', 'x'],
      ['run', '--signal', 'HUP', '--', 'x'],
      ['run', '--watch', '--signal', 'HUP', '--restart', '--', 'x'],
      ['run', '--watch', '--interval', 'soon', '--', 'x'],
      ['run', '--watch', '--signal', 'SIGKILL', '--', 'x'],
      ['resolve'],
      ['frobnicate'],
    ]) {
      assert.throws(
        () => parseCommandLine(argv),
        (err: unknown) => err instanceof CliError && err.exitCode === 2,
        argv.join(' '),
      );
    }
  });

  test('durations and signals', () => {
    assert.equal(parseDuration('--interval', '500ms', 200), 500);
    assert.equal(parseDuration('--interval', '30', 200), 30_000);
    assert.equal(parseDuration('--interval', '2m', 200), 120_000);
    assert.throws(() => parseDuration('--interval', '100ms', 200), /at least 200 ms/);
    assert.equal(parseSignal('SIGUSR1'), 'SIGUSR1');
    assert.equal(parseSignal('term'), 'SIGTERM');
    assert.throws(() => parseSignal('SIGNOPE'), /--signal SIGNOPE/);
  });
});
