// User story: as an operator whose credential was deleted or destroyed in Vault behind the app's back, resolve
// and `make doctor` tell me which of three cases it is — the current version soft-deleted (`vault kv undelete`
// gives it back), the current version destroyed with an older one intact (`vault kv rollback` gives that back),
// or nothing left — and print the exact command. `make doctor REPAIR=1` never destroys what Vault can still give
// back: it removes only references with nothing left; destroying a recoverable secret takes its own flag
// (DESTROY_RECOVERABLE=1). The printed command, run as printed, brings the credential back. The same holds on a
// mount with `delete_version_after`: a version not yet expired is live, an expired one is recoverable.
// A write whose row could not be saved destroys only the version it wrote, and a repair waits for the backup's
// write barrier like any write.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { BARRIER_EXCLUSIVE_SQL, BARRIER_RELEASE_SQL, VaultClient, type KvVersionInfo } from '@aurora/common';
import { lastJsonLine, waitFor, CredentialsStack, type HttpResult } from '@aurora/process';
import { fieldFault } from '../faults/field-fault.js';

const { test } = fieldFault('doctor-keeps-recoverable-secrets', {
  fault: 'A repair that destroyed what Vault could still give back',
  outcome:
    'doctor tells a soft-deleted, a destroyed-with-an-older-version-intact and a gone secret apart and prints the command that gives it back; REPAIR=1 never destroys a recoverable version and waits for the backup barrier',
});

interface Finding {
  kind: string;
  reference: string;
  detail: string;
  condition?: string;
  recover?: string;
  direction?: string;
  recordedVersion?: number;
  vaultVersion?: number;
  repaired?: boolean;
  error?: string;
}
interface Report {
  dangling: number;
  recoverable: number;
  orphans: number;
  repaired: number;
  remaining: number;
  findings: Finding[];
}

describe('doctor keeps what Vault can still give back', () => {
  let stack: CredentialsStack;
  const canaries: string[] = [];
  const value = (tag: string) => {
    const v = `canary-recoverable-${tag}-${Math.random().toString(36).slice(2, 10)}`;
    canaries.push(v);
    return v;
  };
  const doctor = (args: string[] = []) => {
    const res = stack.app.doctor([...args, '--json']);
    return { code: res.code, report: lastJsonLine<Report>(res.stdout) as Report, raw: res.stdout + res.stderr };
  };
  const put = async (user: string, type: string, v: string) => {
    const res = await stack.request('PUT', `/users/${user}/credentials/${type}`, {
      auth: 'writer',
      body: { data: { key: v } },
    });
    assert.ok(res.status === 200 || res.status === 201, res.text);
  };
  const resolve = (user: string, type: string): Promise<HttpResult> =>
    stack.request('POST', `/users/${user}/credentials/${type}/resolve`, { auth: 'writer' });
  const message = (r: HttpResult) => (r.json as { message?: string } | undefined)?.message ?? r.text;
  const meta = (p: string): Promise<KvVersionInfo> => stack.operator.kvMetadata('aurora', p);
  const rowsOf = async (user: string) => (await stack.rows()).filter((r) => r.startsWith(`${user}|`));
  /** Runs a command doctor printed (`vault …`, possibly `a && b`) exactly as printed, with the operator's token. */
  const runPrinted = (command: string) => {
    for (const part of command.split(' && ')) {
      const words = part.split(' ');
      assert.equal(words[0], 'vault', command);
      stack.cli(words.slice(1));
    }
  };

  /** After a printed rollback: doctor lists the row as behind Vault, and REPAIR=1 brings doctor to 0. */
  const assertMismatchRepaired = async (user: string, type: string, recorded: number, current: number) => {
    const listed = doctor();
    assert.equal(listed.code, 1, listed.raw);
    assert.deepEqual(
      listed.report.findings.map((f) => [f.kind, f.reference, f.direction, f.recordedVersion, f.vaultVersion]),
      [['mismatch', `vault:kv/data/aurora/users/${user}/${type}`, 'row-behind', recorded, current]],
    );
    const repaired = doctor(['--repair']);
    assert.deepEqual([repaired.code, repaired.report.repaired, repaired.report.remaining], [0, 1, 0], repaired.raw);
    const rows = (await rowsOf(user)).map((r) => r.split('|'));
    assert.deepEqual(
      rows.map((r) => [r[1], r[3]]),
      [[type, String(current)]],
    );
  };

  before(async () => {
    stack = await CredentialsStack.start({ env: { CACHE_TTL_SECONDS: '0' } });
  });
  after(async () => {
    await stack?.stop();
  });

  test('current version soft-deleted: resolve and doctor name `vault kv undelete`, REPAIR=1 keeps every version', async () => {
    const [v1, v2] = [value('alice-1'), value('alice-2')];
    await put('alice', 'github', v1);
    await put('alice', 'github', v2);
    stack.cli(['kv', 'delete', 'aurora/users/alice/github']);
    const command = 'vault kv undelete -versions=2 aurora/users/alice/github';

    const r = await resolve('alice', 'github');
    assert.equal(r.status, 404, r.text);
    assert.match(message(r), /soft delete/);
    assert.ok(message(r).includes(command), message(r));

    const listed = doctor();
    assert.equal(listed.code, 1, listed.raw);
    assert.deepEqual(
      listed.report.findings.map((f) => [f.kind, f.reference, f.condition, f.recover]),
      [['dangling', 'vault:kv/data/aurora/users/alice/github', 'current-deleted', command]],
    );
    const text = stack.app.doctor();
    assert.ok(text.stdout.includes(`  ${command}\n`), text.stdout);
    assert.match(text.stdout, /1 dangling \(1 recoverable\)/);
    assert.doesNotMatch(text.stdout, /fix: make doctor REPAIR=1/);

    const repaired = doctor(['--repair']);
    assert.equal(repaired.code, 1, repaired.raw);
    assert.deepEqual([repaired.report.repaired, repaired.report.remaining], [0, 1]);
    assert.match(stack.app.doctor(['--repair']).stdout, /\[left alone: recoverable\]/);
    assert.equal((await rowsOf('alice')).length, 1, 'the row is kept');
    const m = await meta('users/alice/github');
    assert.equal(m.current_version, 2);
    assert.deepEqual(
      [m.versions['1']!.destroyed, m.versions['2']!.destroyed, m.versions['2']!.deletion_time !== ''],
      [false, false, true],
    );

    runPrinted(command);
    const back = await resolve('alice', 'github');
    assert.equal(back.status, 200, back.text);
    assert.deepEqual((back.json as { data: unknown }).data, { key: v2 });
    const after = doctor();
    assert.deepEqual([after.code, after.report.dangling], [0, 0], after.raw);
  });

  test('current version destroyed, an older one intact: the rollback command, REPAIR=1 keeps version 1', async () => {
    const [v1, v2] = [value('bob-1'), value('bob-2')];
    await put('bob', 'db', v1);
    await put('bob', 'db', v2);
    stack.cli(['kv', 'destroy', '-versions=2', 'aurora/users/bob/db']);
    const command = 'vault kv rollback -version=1 aurora/users/bob/db';

    const r = await resolve('bob', 'db');
    assert.equal(r.status, 404, r.text);
    assert.match(message(r), /destroyed/);
    assert.ok(message(r).includes(command), message(r));

    const repaired = doctor(['--repair']);
    assert.equal(repaired.code, 1, repaired.raw);
    assert.deepEqual(
      repaired.report.findings.map((f) => [f.kind, f.condition, f.recover, f.repaired === true]),
      [['dangling', 'current-destroyed', command, false]],
    );
    assert.equal((await meta('users/bob/db')).versions['1']!.destroyed, false, 'version 1 survives REPAIR=1');

    runPrinted(command);
    const back = await resolve('bob', 'db');
    assert.equal(back.status, 200, back.text);
    assert.deepEqual((back.json as { data: unknown }).data, { key: v1 });
    // The rollback wrote version 3 in Vault, the row still says 2: doctor names it, REPAIR=1 records 3.
    await assertMismatchRepaired('bob', 'db', 2, 3);
  });

  test('metadata deleted: nothing left, resolve says so, REPAIR=1 removes the reference', async () => {
    await put('carol', 'aws', value('carol'));
    stack.cli(['kv', 'metadata', 'delete', 'aurora/users/carol/aws']);
    const r = await resolve('carol', 'aws');
    assert.equal(r.status, 404, r.text);
    assert.match(message(r), /nothing left in Vault/);
    const listed = doctor();
    assert.deepEqual(
      listed.report.findings.map((f) => [f.kind, f.condition, f.recover]),
      [['dangling', 'gone', undefined]],
    );
    assert.match(stack.app.doctor().stdout, /fix: make doctor REPAIR=1/);
    const repaired = doctor(['--repair']);
    assert.deepEqual([repaired.code, repaired.report.repaired, repaired.report.remaining], [0, 1, 0], repaired.raw);
    assert.deepEqual(await rowsOf('carol'), []);
  });

  test('every version destroyed: nothing left, REPAIR=1 removes the reference and the empty metadata', async () => {
    await put('erin', 'k', value('erin-1'));
    await put('erin', 'k', value('erin-2'));
    stack.cli(['kv', 'destroy', '-versions=1,2', 'aurora/users/erin/k']);
    assert.deepEqual(
      doctor().report.findings.map((f) => [f.kind, f.condition]),
      [['dangling', 'gone']],
    );
    const repaired = doctor(['--repair']);
    assert.deepEqual([repaired.code, repaired.report.remaining], [0, 0], repaired.raw);
    assert.deepEqual(await rowsOf('erin'), []);
    assert.deepEqual(await stack.vaultSnapshot(), {
      'users/alice/github': 2,
      'users/bob/db': 3,
    });
  });

  test('destroying a recoverable secret takes its own flag, and only with --repair', async () => {
    await put('dave', 'ssh', value('dave-1'));
    stack.cli(['kv', 'delete', 'aurora/users/dave/ssh']);
    const usage = stack.app.doctor(['--destroy-recoverable']);
    assert.equal(usage.code, 2, usage.stdout + usage.stderr);
    assert.match(usage.stderr, /only goes with --repair/);
    assert.ok((await meta('users/dave/ssh')).versions['1'], 'a usage error changed nothing');

    const destroyed = doctor(['--repair', '--destroy-recoverable']);
    assert.deepEqual([destroyed.code, destroyed.report.repaired, destroyed.report.remaining], [0, 1, 0], destroyed.raw);
    assert.deepEqual(await rowsOf('dave'), []);
    await assert.rejects(meta('users/dave/ssh'), /nothing stored/);
  });

  test('a write whose row could not be saved destroys only the version it wrote', async () => {
    // A reference whose current version is soft-deleted (recoverable), then a PUT of it whose row write fails.
    const [v1, v2] = [value('fay-1'), value('fay-2')];
    await put('fay', 'api', v1);
    await put('fay', 'api', v2);
    stack.cli(['kv', 'delete', 'aurora/users/fay/api']);
    const db = new pg.Client({ connectionString: stack.postgres.url });
    db.on('error', () => undefined);
    await db.connect();
    await db.query('BEGIN');
    await db.query('LOCK TABLE credential_references IN SHARE MODE');
    const pending = stack.request('PUT', '/users/fay/credentials/api', {
      auth: 'writer',
      body: { data: { key: value('fay-3-lost') } },
    });
    await waitFor(
      'the Vault write of version 3',
      async () => ((await meta('users/fay/api')).current_version === 3 ? true : undefined),
      20_000,
      20,
    );
    // The app's row write waits on our lock: end its session, then let ours go.
    await waitFor(
      "the app's row write to wait on the lock",
      async () => {
        const res = await db.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
        );
        return res.rowCount ? true : undefined;
      },
      10_000,
      20,
    );
    await db.query('ROLLBACK');
    await db.end();
    const res = await pending;
    assert.equal(res.status, 503, res.text);
    const m = await meta('users/fay/api');
    assert.deepEqual(
      ['1', '2', '3'].map((n) => m.versions[n]!.destroyed),
      [false, false, true],
      'only version 3, which the failed write created, is destroyed',
    );
    runPrinted(
      'vault kv undelete -versions=2 aurora/users/fay/api && vault kv rollback -version=2 aurora/users/fay/api',
    );
    const back = await resolve('fay', 'api');
    assert.deepEqual((back.json as { data: unknown }).data, { key: v2 }, back.text);
    // Version 4 is version 2's value again, the version the row records: the two stores agree on the value.
    const listed = doctor();
    assert.deepEqual([listed.code, listed.report.findings], [0, []], listed.raw);
  });

  test('a repair waits for the backup barrier, like a write', async () => {
    await put('gus', 'x', value('gus'));
    stack.cli(['kv', 'metadata', 'delete', 'aurora/users/gus/x']);
    const backup = new pg.Client({ connectionString: stack.postgres.url });
    backup.on('error', () => undefined);
    await backup.connect();
    await backup.query(BARRIER_EXCLUSIVE_SQL);
    const running = stack.app.doctorAsync(['--repair', '--json']);
    try {
      await waitFor(
        'the repair to wait for the barrier',
        async () => {
          const n = await stack.postgres.psql(
            'aurora',
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
          );
          return Number(n) > 0 ? true : undefined;
        },
        30_000,
        50,
      );
      assert.equal((await rowsOf('gus')).length, 1, 'nothing repaired while the barrier is held');
    } finally {
      await backup.query(BARRIER_RELEASE_SQL);
      await backup.end();
    }
    const d = await running;
    const report = lastJsonLine<Report>(d.stdout);
    assert.deepEqual([d.code, report.repaired], [0, 1], d.stdout + d.stderr);
    assert.deepEqual(await rowsOf('gus'), []);
  });

  test('a mount with delete_version_after: a version not yet expired is live, an expired one is kept', async () => {
    const init = JSON.parse(fs.readFileSync(path.join(stack.initDirs.initDir, 'init.json'), 'utf8')) as {
      root_token?: string;
    };
    assert.ok(init.root_token, 'the test stack keeps its root token');
    const root = new VaultClient({ addr: stack.vault.addr, token: init.root_token });
    await root.write('aurora/config', { delete_version_after: '1h' });
    await put('hal', 'live', value('hal-live'));
    assert.notEqual((await meta('users/hal/live')).versions['1']!.deletion_time, '', 'the version expires later');
    const fine = doctor(['--repair']);
    assert.deepEqual([fine.code, fine.report.dangling], [0, 0], fine.raw);
    assert.equal((await resolve('hal', 'live')).status, 200);

    await root.write('aurora/config', { delete_version_after: '2s' });
    await put('hal', 'short', value('hal-short'));
    await waitFor(
      'the version to expire',
      async () => ((await resolve('hal', 'short')).status === 404 ? true : undefined),
      30_000,
      250,
    );
    await root.write('aurora/config', { delete_version_after: '0s' });
    const command = 'vault kv undelete -versions=1 aurora/users/hal/short';
    assert.ok(message(await resolve('hal', 'short')).includes(command));
    const kept = doctor(['--repair']);
    assert.equal(kept.code, 1, kept.raw);
    assert.deepEqual(
      kept.report.findings.map((f) => [f.reference, f.condition, f.recover, f.repaired === true]),
      [['vault:kv/data/aurora/users/hal/short', 'current-deleted', command, false]],
    );
    assert.equal((await meta('users/hal/short')).versions['1']!.destroyed, false);
    assert.equal((await resolve('hal', 'live')).status, 200, 'the unexpired one is still served');
  });

  test('no value reached a log, a response, doctor output or the database', () => {
    assert.deepEqual(stack.leaks(canaries), []);
  });
});
