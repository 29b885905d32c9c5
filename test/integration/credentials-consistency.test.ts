// User story: as an operator, whatever fails between the Vault write and the PostgreSQL row (PostgreSQL
// stopped, the app killed -9), no reference without its secret and no secret without its reference survives:
// the app undoes what it can at once, and `doctor` lists the rest and `--repair` fixes it (0 orphans, 0 dangling).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { waitFor, CredentialsStack, type HttpResult } from '@aurora/process';

interface Report {
  dangling: number;
  orphans: number;
  unmanaged: number;
  repaired: number;
  remaining: number;
  findings: Array<{ kind: string; reference: string }>;
}

describe('consistency between Vault and PostgreSQL, and doctor', () => {
  let stack: CredentialsStack;
  const canaries: string[] = [];
  const value = (tag: string) => {
    const v = `canary-consistency-${tag}-${Math.random().toString(36).slice(2, 10)}`;
    canaries.push(v);
    return v;
  };

  /** Holds a SHARE lock on the table: SELECTs pass, the app's INSERT/UPDATE waits (after its Vault write). */
  async function blockRowWrites(): Promise<pg.Client> {
    const db = new pg.Client({ connectionString: stack.postgres.url });
    db.on('error', () => {
      /* terminated when PostgreSQL stops: expected */
    });
    await db.connect();
    await db.query('BEGIN');
    await db.query('LOCK TABLE credential_references IN SHARE MODE');
    return db;
  }
  /**
   * PostgreSQL going away under the app's blocked row write. The app's backend is terminated first, while
   * our lock still holds: a plain fast shutdown ends both sessions at once, and now and then the app's
   * upsert would get the lock and commit before its own termination.
   */
  async function stopPostgresUnderBlockedWrite(lock: pg.Client): Promise<void> {
    await waitFor(
      "the app's row write to wait on the lock",
      async () => {
        const res = await lock.query(
          "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
        );
        return res.rowCount ? true : undefined;
      },
      10_000,
      20,
    );
    await stack.postgres.stop();
  }
  const release = async (db: pg.Client) => {
    await db.query('ROLLBACK').catch(() => undefined);
    await db.end().catch(() => undefined);
  };
  const waitForVersion = (path: string, version: number) =>
    waitFor(
      `Vault to hold version ${version} of ${path}`,
      async () => {
        const meta = await stack.operator.kvMetadata('aurora', path).catch(() => undefined);
        return meta && meta.current_version >= version ? true : undefined;
      },
      15_000,
      20,
    );
  const doctor = (args: string[] = []) => {
    const res = stack.app.doctor([...args, '--json']);
    return { code: res.code, report: JSON.parse(res.stdout || '{}') as Report, raw: res.stdout + res.stderr };
  };

  before(async () => {
    stack = await CredentialsStack.start();
  });
  after(async () => {
    await stack?.stop();
  });

  test('PostgreSQL down before a write: 503 + Retry-After, and Vault is not touched', async () => {
    await stack.postgres.stop();
    const res = await stack.request('PUT', '/users/frank/credentials/early', {
      auth: 'writer',
      body: { data: { key: value('pg-down') } },
    });
    assert.equal(res.status, 503, res.text);
    assert.ok(res.headers.get('retry-after'));
    assert.deepEqual(await stack.vaultSnapshot(), {});
    await stack.postgres.startProcess();
    await stack.app.waitReady();
  });

  test('PostgreSQL stopped after the Vault write of a new credential: 503, and the new secret is destroyed at once', async () => {
    const lock = await blockRowWrites();
    const pending = stack.request('PUT', '/users/frank/credentials/aws', {
      auth: 'writer',
      body: { data: { key: value('new') } },
    });
    await waitForVersion('users/frank/aws', 1);
    await stopPostgresUnderBlockedWrite(lock);
    const res = await pending;
    await release(lock);
    assert.equal(res.status, 503, res.text);
    assert.ok(res.headers.get('retry-after'));
    assert.deepEqual(await stack.vaultSnapshot(), {}, 'the compensation destroyed the secret that has no row');
    await stack.postgres.startProcess();
    await stack.app.waitReady();
    const d = doctor();
    assert.equal(d.code, 0, d.raw);
    assert.deepEqual([d.report.orphans, d.report.dangling], [0, 0]);
  });

  test('PostgreSQL stopped after the Vault write of an update: 503, and the previous value is written back', async () => {
    const original = value('original');
    assert.equal(
      (await stack.request('PUT', '/users/gina/credentials/api', { auth: 'writer', body: { data: { key: original } } }))
        .status,
      201,
    );
    const lock = await blockRowWrites();
    const pending = stack.request('PUT', '/users/gina/credentials/api', {
      auth: 'writer',
      body: { data: { key: value('lost-update') } },
    });
    await waitForVersion('users/gina/api', 2);
    await stopPostgresUnderBlockedWrite(lock);
    const res = await pending;
    await release(lock);
    assert.equal(res.status, 503, res.text);
    await stack.postgres.startProcess();
    await stack.app.waitReady();
    assert.deepEqual((await stack.operator.kvRead('aurora', 'users/gina/api')).data, { key: original });
    const resolved = await stack.request('POST', '/users/gina/credentials/api/resolve', { auth: 'writer' });
    assert.deepEqual((resolved.json as { data: unknown }).data, { key: original });
    const d = doctor();
    assert.equal(d.code, 0, d.raw);
  });

  test('the app killed -9 between the Vault write and the row: doctor lists the orphan, --repair destroys it', async () => {
    const lock = await blockRowWrites();
    const pending = stack
      .request('PUT', '/users/hank/credentials/aws', { auth: 'writer', body: { data: { key: value('crash') } } })
      .catch((err: unknown) => err);
    await waitForVersion('users/hank/aws', 1);
    await stack.app.kill();
    assert.ok(!('status' in ((await pending) as object)), 'the request died with the app');
    await release(lock);
    assert.deepEqual(await stack.rows().then((r) => r.filter((x) => x.startsWith('hank|'))), []);

    const listed = doctor();
    assert.equal(listed.code, 1, listed.raw);
    assert.deepEqual([listed.report.orphans, listed.report.dangling], [1, 0]);
    assert.deepEqual(
      listed.report.findings.map((f) => [f.kind, f.reference]),
      [['orphan', 'vault:kv/data/aurora/users/hank/aws']],
    );
    const text = stack.app.doctor();
    assert.equal(text.code, 1);
    assert.match(text.stdout, /orphan\s+vault:kv\/data\/aurora\/users\/hank\/aws/);
    assert.match(text.stdout, /summary: .*1 orphaned/);

    const repaired = doctor(['--repair']);
    assert.equal(repaired.code, 0, repaired.raw);
    assert.deepEqual([repaired.report.repaired, repaired.report.remaining], [1, 0]);
    assert.deepEqual(await stack.vaultSnapshot(), { 'users/gina/api': 3 });
    const again = doctor();
    assert.deepEqual([again.code, again.report.orphans, again.report.dangling], [0, 0, 0]);
    await stack.app.startProcess();
    await stack.app.waitReady();
  });

  test('a secret destroyed behind the app: resolve is a clear 404, doctor lists the dangling reference, --repair removes it', async () => {
    assert.equal(
      (
        await stack.request('PUT', '/users/ivan/credentials/x', {
          auth: 'writer',
          body: { data: { key: value('dangling') } },
        })
      ).status,
      201,
    );
    stack.cli(['kv', 'metadata', 'delete', 'aurora/users/ivan/x']);
    // Cached for the TTL; a write through the app would have invalidated it, this one was behind its back.
    await waitFor(
      'resolve to notice',
      async () => {
        const r = await stack.request('POST', '/users/ivan/credentials/x/resolve', { auth: 'writer' });
        return r.status === 404 ? r : undefined;
      },
      40_000,
      250,
    ).then((r: HttpResult) => assert.match((r.json as { message: string }).message, /dangling|doctor/));
    const listed = doctor();
    assert.equal(listed.code, 1);
    assert.deepEqual(
      listed.report.findings.map((f) => [f.kind, f.reference]),
      [['dangling', 'vault:kv/data/aurora/users/ivan/x']],
    );
    const repaired = doctor(['--repair']);
    assert.equal(repaired.code, 0, repaired.raw);
    assert.deepEqual(await stack.rows().then((r) => r.filter((x) => x.startsWith('ivan|'))), []);
  });

  test('doctor --repair during a write in progress never destroys the secret whose row is being committed', async () => {
    const v = value('race');
    const lock = await blockRowWrites();
    const pending = stack.request('PUT', '/users/judy/credentials/race', {
      auth: 'writer',
      body: { data: { key: v } },
    });
    await waitForVersion('users/judy/race', 1);
    const running = stack.app.doctorAsync(['--repair', '--json']);
    // doctor saw the secret without a row and now waits for the app's advisory lock on it.
    await waitFor(
      'doctor to wait for the credential lock',
      async () => {
        const n = await stack.postgres.psql(
          'aurora',
          "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        );
        return Number(n) > 0 ? true : undefined;
      },
      20_000,
      50,
    );
    await release(lock);
    const res = await pending;
    assert.equal(res.status, 201, res.text);
    const d = await running;
    assert.equal(d.code, 0, d.stdout + d.stderr);
    const resolved = await stack.request('POST', '/users/judy/credentials/race/resolve', { auth: 'writer' });
    assert.deepEqual((resolved.json as { data: unknown }).data, { key: v });
    const final = doctor();
    assert.deepEqual([final.code, final.report.orphans, final.report.dangling], [0, 0, 0]);
  });

  test("the docs' own `vault kv put aurora/users/test-secret` is listed as unmanaged and survives --repair", async () => {
    await stack.operator.kvWrite('aurora', 'users/test-secret', { value: value('docs-walkthrough') });
    const d = doctor(['--repair']);
    assert.equal(d.code, 0, d.raw);
    assert.deepEqual([d.report.orphans, d.report.unmanaged], [0, 1]);
    assert.ok(await stack.operator.kvRead('aurora', 'users/test-secret'), 'doctor left the hand-made secret alone');
    await stack.operator.kvDestroyAll('aurora', 'users/test-secret');
  });

  test('no value reached a log, a response, doctor output or the database', () => {
    assert.deepEqual(stack.leaks(canaries), []);
  });
});
