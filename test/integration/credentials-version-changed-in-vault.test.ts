// User story: as an operator I change a credential in Vault outside the app — `vault kv rollback` (what doctor
// advises for a destroyed current version), a direct `vault kv put`, the undelete + rollback doctor prints, or a
// delete and a new write that restarts Vault's version count — and the app's row no longer records Vault's current
// version. Resolve serves Vault's current value; GET answers Vault's current version as `version` and ETag (what
// an If-Match is compared with) and the row's number as `recorded_version`; a stale If-Match answers 409 naming
// the current version and where to get it; `make doctor` names the row, which way it disagrees and what to do;
// `make doctor REPAIR=1` records Vault's version (nothing destroyed), after which doctor finds nothing and the
// ETag from a GET works as If-Match.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialsStack, lastJsonLine, type HttpResult } from '@aurora/process';
import { fieldFault } from '../faults/field-fault.js';

const { test } = fieldFault('credentials-version-changed-in-vault', {
  fault: "A row and Vault disagreeing about a credential's version",
  outcome:
    "rollback, direct kv put, undelete + rollback, delete and rewrite: GET's ETag is Vault's version, a stale If-Match gets a 409 naming it, doctor names the mismatch and REPAIR=1 records Vault's version",
});

interface Finding {
  kind: string;
  reference: string;
  detail: string;
  direction?: string;
  recordedVersion?: number;
  vaultVersion?: number;
  repaired?: boolean;
}
interface Report {
  mismatched: number;
  dangling: number;
  repaired: number;
  remaining: number;
  findings: Finding[];
}

describe('a credential changed in Vault outside the app', () => {
  let stack: CredentialsStack;
  const canaries: string[] = [];
  const value = (tag: string) => {
    const v = `canary-version-${tag}-${Math.random().toString(36).slice(2, 10)}`;
    canaries.push(v);
    return v;
  };
  const doctor = (args: string[] = []) => {
    const res = stack.app.doctor([...args, '--json']);
    return { code: res.code, report: lastJsonLine<Report>(res.stdout) as Report, raw: res.stdout + res.stderr };
  };
  const put = (user: string, type: string, v: string, ifMatch?: string): Promise<HttpResult> =>
    stack.request('PUT', `/users/${user}/credentials/${type}`, {
      auth: 'writer',
      body: { data: { key: v } },
      ...(ifMatch === undefined ? {} : { headers: { 'if-match': ifMatch } }),
    });
  const putOk = async (user: string, type: string, v: string) => {
    const res = await put(user, type, v);
    assert.ok(res.status === 200 || res.status === 201, res.text);
  };
  const get = (user: string, type: string) =>
    stack.request('GET', `/users/${user}/credentials/${type}`, { auth: 'writer' });
  const resolve = (user: string, type: string) =>
    stack.request('POST', `/users/${user}/credentials/${type}/resolve`, { auth: 'writer' });
  const message = (r: HttpResult) => (r.json as { message?: string } | undefined)?.message ?? r.text;
  const reference = (user: string, type: string) => `vault:kv/data/aurora/users/${user}/${type}`;

  /**
   * The whole story for one credential whose row records `recorded` while Vault's current version is `current`
   * holding `expected`: resolve, GET, the 409, doctor's finding, the repair, and the If-Match that works after.
   */
  const assertMismatchStory = async (
    user: string,
    type: string,
    recorded: number,
    current: number,
    expected: string,
  ) => {
    const resolved = await resolve(user, type);
    assert.equal(resolved.status, 200, resolved.text);
    assert.deepEqual(resolved.json, { reference: reference(user, type), version: current, data: { key: expected } });

    const got = await get(user, type);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.headers.get('etag'), `"${current}"`, 'the ETag is what If-Match is compared with');
    const body = got.json as { version: number; recorded_version?: number };
    assert.deepEqual([body.version, body.recorded_version], [current, recorded]);

    const stale = await put(user, type, value(`${user}-stale`), `"${recorded}"`);
    assert.equal(stale.status, 409, stale.text);
    assert.match(message(stale), new RegExp(`If-Match: ${recorded} but the current version .* is ${current}\\b`));
    assert.match(message(stale), new RegExp(`GET /users/${user}/credentials/${type} answers it in its ETag`));
    assert.match(message(stale), /make doctor/);

    const listed = doctor();
    assert.equal(listed.code, 1, listed.raw);
    const direction = recorded < current ? 'row-behind' : 'row-ahead';
    assert.deepEqual(
      listed.report.findings.map((f) => [f.kind, f.reference, f.direction, f.recordedVersion, f.vaultVersion]),
      [['mismatch', reference(user, type), direction, recorded, current]],
    );
    assert.equal(listed.report.mismatched, 1);
    assert.match(listed.report.findings[0]!.detail, /make doctor REPAIR=1 records version/);
    const text = stack.app.doctor();
    assert.match(text.stdout, /1 version mismatch\b/);
    assert.match(text.stdout, /fix: make doctor REPAIR=1/);

    const repaired = doctor(['--repair']);
    assert.deepEqual([repaired.code, repaired.report.repaired, repaired.report.remaining], [0, 1, 0], repaired.raw);
    assert.deepEqual([doctor().code, doctor().report.findings], [0, []]);
    const metadata = await stack.operator.kvMetadata('aurora', `users/${user}/${type}`);
    assert.equal(metadata.current_version, current, 'the repair wrote nothing to Vault');

    const after = await get(user, type);
    assert.equal(after.headers.get('etag'), `"${current}"`);
    assert.equal((after.json as { recorded_version?: number }).recorded_version, undefined);
    const next = await put(user, type, value(`${user}-next`), after.headers.get('etag') ?? '');
    assert.equal(next.status, 200, next.text);
    assert.equal((next.json as { version: number }).version, current + 1);
  };

  before(async () => {
    stack = await CredentialsStack.start({ env: { CACHE_TTL_SECONDS: '0' } });
  });
  after(async () => {
    await stack?.stop();
  });

  test('vault kv rollback: Vault is at 3, the row says 2', async () => {
    const v1 = value('ann-1');
    await putOk('ann', 'github', v1);
    await putOk('ann', 'github', value('ann-2'));
    stack.cli(['kv', 'rollback', '-version=1', 'aurora/users/ann/github']);
    await assertMismatchStory('ann', 'github', 2, 3, v1);
  });

  test('vault kv put directly: Vault is at 2, the row says 1', async () => {
    await putOk('ben', 'db', value('ben-1'));
    const direct = value('ben-direct');
    stack.cli(['kv', 'put', 'aurora/users/ben/db', `key=${direct}`]);
    await assertMismatchStory('ben', 'db', 1, 2, direct);
  });

  test('the undelete + rollback doctor prints: Vault is at 3, the row says 2', async () => {
    const v1 = value('cat-1');
    await putOk('cat', 'api', v1);
    await putOk('cat', 'api', value('cat-2'));
    stack.cli(['kv', 'delete', '-versions=1', 'aurora/users/cat/api']);
    stack.cli(['kv', 'destroy', '-versions=2', 'aurora/users/cat/api']);
    const printed = doctor().report.findings.map((f) => (f as Finding & { recover?: string }).recover);
    const command =
      'vault kv undelete -versions=1 aurora/users/cat/api && vault kv rollback -version=1 aurora/users/cat/api';
    assert.deepEqual(printed, [command]);
    for (const part of command.split(' && ')) stack.cli(part.split(' ').slice(1));
    await assertMismatchStory('cat', 'api', 2, 3, v1);
  });

  test('the secret deleted and written again in Vault: the row says 2, Vault is at 1', async () => {
    await putOk('dot', 'ssh', value('dot-1'));
    await putOk('dot', 'ssh', value('dot-2'));
    stack.cli(['kv', 'metadata', 'delete', 'aurora/users/dot/ssh']);
    const again = value('dot-again');
    stack.cli(['kv', 'put', 'aurora/users/dot/ssh', `key=${again}`]);
    await assertMismatchStory('dot', 'ssh', 2, 1, again);
  });

  test("the same value written again in Vault (as the app's undo of a failed update does): no finding", async () => {
    const v1 = value('eve-1');
    await putOk('eve', 'api', v1);
    stack.cli(['kv', 'put', 'aurora/users/eve/api', `key=${v1}`]);
    const listed = doctor();
    assert.deepEqual([listed.code, listed.report.findings], [0, []], listed.raw);
    const got = await get('eve', 'api');
    assert.equal(got.headers.get('etag'), '"2"', "If-Match is still compared with Vault's current version");
  });

  test('If-Match: 0 on an existing credential names its version', async () => {
    const res = await put('ann', 'github', value('ann-zero'), '0');
    assert.equal(res.status, 409, res.text);
    assert.match(message(res), /If-Match: 0 \(create only if absent\) but .* exists, at version 4;/);
  });

  test('no value reached a log, a response, doctor output or the database', () => {
    assert.deepEqual(stack.leaks(canaries), []);
  });
});
