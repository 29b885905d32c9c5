// User story: as an operator whose Vault (file storage) was killed in the middle of a write, `make doctor` does
// not give up with "could not check": it names the folder Vault can no longer list as `damaged` (exit 1), still
// checks every reference and the rest of the secrets, and leaves the damaged entry alone under --repair. The fix
// it prints works as written: `find <storage> -type f | scripts/doctor.sh --torn-files` names the one file to
// remove (the temporary file of the write Vault never finished), and after `rm` (Vault keeps running)
// `doctor --repair` reaches 0. The same for an entry whose file is cut short: doctor names that secret.
// The torn files are made by hand, deterministically, exactly as Vault leaves them (see
// services/app/src/torn-files.ts): a kill -9 between the temporary file and its rename.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { VaultNotFoundError } from '@aurora/common';
import { findTornFiles, lastJsonLine, CredentialsStack } from '@aurora/process';

interface Finding {
  kind: string;
  reference: string;
  detail: string;
  repaired?: boolean;
}
interface Report {
  dangling: number;
  orphans: number;
  damaged: number;
  repaired: number;
  remaining: number;
  findings: Finding[];
}

/** Every file of Vault's KV v2 metadata trees (`logical/<mount>/<backend>/metadata/…`). */
function metadataFiles(dataDir: string): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\/logical\/[^/]+\/[^/]+\/metadata\//.test(p)) out.add(p);
    }
  };
  walk(dataDir);
  return out;
}

describe("doctor and a damaged entry in Vault's storage", () => {
  let stack: CredentialsStack;
  const canaries: string[] = [];
  const value = (tag: string) => {
    const v = `canary-damaged-${tag}-${Math.random().toString(36).slice(2, 10)}`;
    canaries.push(v);
    return v;
  };
  const doctor = (args: string[] = []) => {
    const res = stack.app.doctor([...args, '--json']);
    // {} when there is no report: asserted below through code and raw.
    const report = lastJsonLine<Report>(res.stdout) as Report;
    return { code: res.code, report, raw: res.stdout + res.stderr };
  };
  const kinds = (r: Report) => r.findings.map((f) => [f.kind, f.reference]).sort();
  const put = async (user: string, type: string) => {
    const res = await stack.request('PUT', `/users/${user}/credentials/${type}`, {
      auth: 'writer',
      body: { data: { value: value(`${user}-${type}`) } },
    });
    assert.equal(res.status, 201, res.text);
  };
  /** Runs `write` and returns the one metadata file it created: the secret's KV v2 metadata entry. */
  const newMetadataFile = async (write: () => Promise<unknown>): Promise<string> => {
    const before = metadataFiles(stack.vault.dataDir);
    await write();
    const added = [...metadataFiles(stack.vault.dataDir)].filter((f) => !before.has(f));
    assert.equal(added.length, 1, `one new metadata file, not ${JSON.stringify(added)}`);
    return added[0]!;
  };
  /** Vault restarted on the same storage, and unsealed by vault-init as after a crash. */
  const withVaultStopped = async (change: () => void) => {
    await stack.vault.stop();
    change();
    await stack.vault.startProcess();
    await stack.runVaultInit();
  };

  let stray = '';
  let strayEntry = '';

  before(async () => {
    stack = await CredentialsStack.start();
    await put('alice', 'github');
    await put('alice', 'aws');
    await put('bob', 'db');
  });
  after(async () => {
    await stack?.stop();
  });

  test('a write cut short by a kill: doctor names the folder as damaged, still checks everything else, exit 1', async () => {
    // Two ordinary problems, so that the rest of the check is seen to run: a dangling row and an orphan.
    stack.cli(['kv', 'metadata', 'delete', 'aurora/users/bob/db']);
    await stack.operator.kvWrite('aurora', 'users/carol/x', { value: value('orphan') });
    // The app's Vault write of a new credential alice/gitlab, as a kill -9 leaves it: Vault wrote its metadata to
    // the temporary file `_<entry><uint32 digits>` (os.CreateTemp) and died before renaming it over `_<entry>`.
    // No row: the app never got an answer, so it answered 503 and committed nothing.
    strayEntry = await newMetadataFile(() =>
      stack.operator.kvWrite('aurora', 'users/alice/gitlab', { value: value('in-flight') }),
    );
    stray = `${strayEntry}2358448399`;
    await withVaultStopped(() => fs.renameSync(strayEntry, stray));

    const listed = doctor();
    assert.equal(listed.code, 1, listed.raw);
    assert.deepEqual(
      kinds(listed.report),
      [
        ['damaged', 'vault:kv/data/aurora/users/alice/'],
        ['dangling', 'vault:kv/data/aurora/users/bob/db'],
        ['orphan', 'vault:kv/data/aurora/users/carol/x'],
      ],
      listed.raw,
    );
    assert.deepEqual(
      [listed.report.damaged, listed.report.dangling, listed.report.orphans, listed.report.remaining],
      [1, 1, 1, 3],
    );
    const damaged = listed.report.findings.find((f) => f.kind === 'damaged')!;
    assert.match(damaged.detail, /listing this folder \(invalid ciphertext: [^)]+\)/);
    for (const part of [
      'find .native/vault/data -type f | scripts/doctor.sh --torn-files',
      'docker exec vault find /vault/file -type f | scripts/doctor.sh --torn-files',
      'docker exec vault rm',
      'make doctor REPAIR=1',
      'make restore',
    ])
      assert.ok(damaged.detail.includes(part), part);

    const text = stack.app.doctor();
    assert.equal(text.code, 1, text.stdout + text.stderr);
    assert.match(text.stdout, /^ {2}damaged {2}vault:kv\/data\/aurora\/users\/alice\/ {2}\(Vault answers 500/m);
    assert.match(
      text.stdout,
      /summary: 3 references, 1 secrets; 1 dangling, 1 orphaned, 1 damaged, 0 foreign, 0 unmanaged; 0 repaired, 3 remaining/,
    );
    assert.match(text.stdout, /never repaired automatically/);
  });

  test('doctor --repair repairs the rest and leaves the damaged folder alone: exit 1, 1 remaining', async () => {
    const repaired = doctor(['--repair']);
    assert.equal(repaired.code, 1, repaired.raw);
    assert.deepEqual(
      [repaired.report.repaired, repaired.report.damaged, repaired.report.remaining],
      [2, 1, 1],
      repaired.raw,
    );
    assert.ok(fs.existsSync(stray), "doctor never touches Vault's storage");
  });

  test('the documented fix: --torn-files names the stray file; rm it with Vault running; doctor --repair reaches 0', async () => {
    const found = findTornFiles(stack.vault.dataDir);
    assert.equal(found.code, 1, found.output);
    assert.deepEqual(
      found.torn.map((t) => [t.path, t.kind, t.entry]),
      [[stray, 'stray', path.basename(strayEntry)]],
      found.output,
    );
    assert.ok(found.files > 20 && found.contentChecked === found.files, found.output);

    fs.rmSync(found.torn[0]!.path);
    assert.equal(findTornFiles(stack.vault.dataDir).code, 0);
    const fixed = doctor(['--repair']);
    assert.equal(fixed.code, 0, fixed.raw);
    assert.deepEqual([fixed.report.damaged, fixed.report.remaining], [0, 0], fixed.raw);

    // Every acknowledged credential is intact; the write Vault never finished is simply not there.
    await stack.app.waitReady();
    for (const type of ['github', 'aws']) {
      const res = await stack.request('POST', `/users/alice/credentials/${type}/resolve`, { auth: 'writer' });
      assert.equal(res.status, 200, res.text);
    }
    await assert.rejects(stack.operator.kvMetadata('aurora', 'users/alice/gitlab'), VaultNotFoundError);
    assert.equal(doctor().code, 0);
  });

  test('an entry whose file is cut short: doctor names that secret; --torn-files finds it by content; rm, then --repair deletes its row', async () => {
    const cut = await newMetadataFile(() => put('dave', 'api'));
    const emptied = await newMetadataFile(() => put('dave', 'ssh'));
    await withVaultStopped(() => {
      fs.truncateSync(cut, Math.floor(fs.statSync(cut).size / 2));
      // An emptied file is not damage to Vault: it reads it as absent (and deletes it), so doctor says dangling.
      fs.truncateSync(emptied, 0);
    });

    const listed = doctor();
    assert.equal(listed.code, 1, listed.raw);
    assert.deepEqual(
      kinds(listed.report),
      [
        ['damaged', 'vault:kv/data/aurora/users/dave/api'],
        ['dangling', 'vault:kv/data/aurora/users/dave/ssh'],
      ],
      listed.raw,
    );
    assert.match(
      listed.report.findings.find((f) => f.kind === 'damaged')!.detail,
      /reading this secret's metadata \([^)]+\)/,
    );

    const found = findTornFiles(stack.vault.dataDir);
    assert.deepEqual(
      found.torn.map((t) => [t.path, t.kind]),
      [[cut, 'truncated']],
      found.output,
    );
    fs.rmSync(cut);
    const fixed = doctor(['--repair']);
    assert.equal(fixed.code, 0, fixed.raw);
    assert.deepEqual([fixed.report.repaired, fixed.report.remaining], [2, 0], fixed.raw);
    assert.deepEqual(await stack.rows().then((rows) => rows.filter((r) => r.startsWith('dave|'))), []);
  });

  test("no value in a response, the app log, doctor's output, vault-init's log or pg_dump", () => {
    assert.deepEqual(stack.leaks(canaries), []);
  });
});
