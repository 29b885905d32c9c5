// User story: a long-running program started with `aurora-secrets run --watch` gets the new value when a
// secret it uses is rotated: the CLI sees the new KV v2 version within its polling interval, stops the old
// process (SIGTERM, then SIGKILL after a timeout) and starts a new one with the new value, logging which
// variable changed but never a value. With `--signal SIGHUP` the same process is signalled instead. The
// app's identity may read secret/ but not its metadata: those secrets are watched all the same.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CliProcess, CliVault, childScript } from '../support/cli.js';
import { pidAlive, tempDir, waitFor } from '@aurora/process';

const canary = (label: string) => `${label}-${crypto.randomBytes(12).toString('base64url')}`;
const INTERVAL_MS = 1000;

/** A server-like program: records its pid, start time and values in <dir>/<pid>.json, and each signal it gets. */
const SERVER = `import fs from 'node:fs';
const dir = process.argv[2];
const file = (name) => dir + '/' + process.pid + name;
fs.writeFileSync(file('.json'), JSON.stringify({ pid: process.pid, startedAt: Date.now(),
  token: process.env.GITHUB_TOKEN, client: process.env.CLIENT_SECRET }));
process.on('SIGHUP', () => fs.appendFileSync(file('.signals'), 'SIGHUP\\n'));
process.on('SIGTERM', () => { fs.appendFileSync(file('.signals'), 'SIGTERM\\n'); process.exit(0); });
console.log('serving as', process.pid);
setInterval(() => {}, 1000);`;

interface Started {
  pid: number;
  startedAt: number;
  token?: string;
  client?: string;
}

function starts(dir: string): Started[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Started)
    .sort((a, b) => a.startedAt - b.startedAt);
}

describe('aurora-secrets run --watch follows secret rotation', () => {
  let stack: CliVault;
  let server: string;
  const running: CliProcess[] = [];

  before(async () => {
    stack = await CliVault.start();
    server = childScript('server.mjs', SERVER);
  });
  after(async () => {
    for (const p of running) await p.stop();
    await stack?.stop();
  });

  test('a rotated secret restarts the child with the new value within the interval + 2 s', async () => {
    const first = canary('ghp-v1');
    await stack.operator.kvWrite('aurora', 'users/u1/github', { token: first });
    const dir = tempDir('cli-watch');
    const cli = new CliProcess(['run', '--watch', '--interval', `${INTERVAL_MS}ms`, '--', 'node', server, dir], {
      ...stack.appEnv(),
      GITHUB_TOKEN: 'vault:kv/data/aurora/users/u1/github#token',
    });
    running.push(cli);
    const v1 = await waitFor('the first child to start', () => starts(dir)[0]);
    assert.equal(v1.token, first);

    const second = canary('ghp-v2');
    const rotatedAt = Date.now();
    await stack.operator.kvWrite('aurora', 'users/u1/github', { token: second });
    const v2 = await waitFor('a child with the new value', () => starts(dir).find((s) => s.token === second), 15_000);
    const tookMs = v2.startedAt - rotatedAt;
    assert.ok(tookMs <= INTERVAL_MS + 2000, `restarted ${tookMs} ms after the rotation`);
    assert.notEqual(v2.pid, v1.pid);
    assert.equal(pidAlive(v1.pid), false, 'the old process must be gone');
    assert.match(fs.readFileSync(path.join(dir, `${v1.pid}.signals`), 'utf8'), /SIGTERM/);
    await cli.waitFor(/restarted: pid \d+/);
    assert.match(cli.stderr, /GITHUB_TOKEN changed \(aurora\/users\/u1\/github version 1 → 2\)/);
    assert.ok(!cli.output.includes(first) && !cli.output.includes(second), cli.output);
    assert.equal(starts(dir).length, 2, 'exactly one restart');

    await cli.stop();
    const res = await cli.result();
    assert.equal(res.code, 0, 'SIGTERM reached the child, which exited 0');
    assert.equal(pidAlive(v2.pid), false);
  });

  test('--signal SIGHUP signals the same process, also for a secret whose metadata it may not read', async () => {
    const clientSecret = canary('cs-v1');
    await stack.operator.kvWrite('secret', 'cli-watch/client', { 'client-secret': clientSecret });
    const dir = tempDir('cli-watch-signal');
    const cli = new CliProcess(
      ['run', '--watch', '--interval', `${INTERVAL_MS}ms`, '--signal', 'SIGHUP', '--', 'node', server, dir],
      { ...stack.appEnv(), CLIENT_SECRET: 'vault:kv/data/secret/cli-watch/client#client-secret' },
    );
    running.push(cli);
    const only = await waitFor('the child to start', () => starts(dir)[0]);
    assert.equal(only.client, clientSecret);

    const rotatedAt = Date.now();
    await stack.operator.kvWrite('secret', 'cli-watch/client', { 'client-secret': canary('cs-v2') });
    const signalsFile = path.join(dir, `${only.pid}.signals`);
    await waitFor('SIGHUP to reach the child', () =>
      fs.existsSync(signalsFile) && /SIGHUP/.test(fs.readFileSync(signalsFile, 'utf8')) ? true : undefined,
    );
    assert.ok(Date.now() - rotatedAt <= INTERVAL_MS + 2000 + 500, `signalled ${Date.now() - rotatedAt} ms later`);
    assert.equal(starts(dir).length, 1, 'no restart');
    assert.ok(pidAlive(only.pid));
    await cli.waitFor(/CLIENT_SECRET changed \(secret\/cli-watch\/client version 1 → 2\)/);
    assert.match(cli.stderr, new RegExp(`sending SIGHUP to pid ${only.pid}`));
    await cli.stop();
    await cli.result();
  });
});
