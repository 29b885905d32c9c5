// User story (HA profile, Raft storage): as an operator of the three-node stack I back up without stopping
// anything — `vault operator raft snapshot save` while Vault keeps serving — and the archive is consistent even
// with the app writing and deleting during the backup: the snapshot and the database dump are cut at the same
// instant (the app's write barrier), so a restore finds 0 dangling references and 0 orphans. Restoring into the
// same cluster brings back exactly the backed-up state; restoring into a brand-new cluster (other unseal keys,
// its root token revoked by vault-init) works too: the snapshot goes in with -force, the cluster seals, and
// vault-init unseals all three nodes with the archive's keys.
//
// Real processes: three Vault 1.21.4 nodes on Raft (loopback ports), vault-init in HA mode (watch loop),
// PostgreSQL, the app on a standby. The target is the DirTarget class the native stack uses, over a standby's
// address (requests are forwarded to the active node, as through compose's vault-ha alias).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { HaStack } from '../support/ha-stack.js';
import { tempDir } from '@aurora/process';
import { backup, restore } from '../../scripts/ops/backup-restore.js';
import { BackupError, sha256File } from '../../scripts/ops/archive.js';
import { consistentCut } from '../../scripts/ops/write-barrier.js';

describe('make backup / make restore on Raft storage: online, consistent, and into a new cluster', () => {
  let a: HaStack;
  let b: HaStack | undefined;
  let outDir: string;
  let quietArchive = '';
  let busyArchive = '';
  const logs: string[] = [];
  const allLogs: string[] = [];
  const log = (m: string) => {
    logs.push(m);
    allLogs.push(m);
  };
  const v = (label: string) => `${label}-${crypto.randomBytes(12).toString('hex')}`;
  const values = { alice1: v('alice1'), alice2: v('alice2'), bob: v('bob'), carol: v('carol') };

  interface State {
    vault: Record<string, number>;
    rows: string[];
    alice: unknown;
    bob: unknown;
    carol: number;
  }
  let backedUp: State;

  const state = async (stack: HaStack): Promise<State> => {
    const resolve = async (user: string, type: string) => {
      const r = await stack.request('POST', `/users/${user}/credentials/${type}/resolve`);
      return r.status === 200 ? (r.json as { data: unknown }).data : r.status;
    };
    return {
      vault: await stack.vaultState(),
      rows: await stack.rows(),
      alice: await resolve('alice', 'github'),
      bob: await resolve('bob', 'aws'),
      carol: (await stack.request('POST', '/users/carol/credentials/ssh/resolve')).status,
    };
  };

  before(async () => {
    a = await HaStack.start();
    outDir = tempDir('raft-backups');
    assert.equal(
      (await a.request('PUT', '/users/alice/credentials/github', { data: { token: values.alice1 } })).status,
      201,
    );
    assert.equal((await a.request('PUT', '/users/bob/credentials/aws', { data: { key: values.bob } })).status, 201);
    backedUp = await state(a);
    assert.deepEqual(backedUp.alice, { token: values.alice1 });
    assert.equal(backedUp.carol, 404);
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
  });

  test('make backup on Raft: one archive with a Raft snapshot, no pause, nothing restarted or sealed', async (t) => {
    logs.length = 0;
    const pids = a.cluster.nodes.map((n) => n.pid);
    const res = await backup(a.target(), { outDir, log });
    quietArchive = res.file;
    assert.equal(fs.statSync(res.file).mode & 0o777, 0o600);
    assert.equal(res.manifest.storage, 'raft');
    assert.deepEqual(Object.keys(res.manifest.parts).sort(), ['init.json', 'postgres.sql', 'vault-raft.snap']);
    assert.equal(res.pauseMs, 0);
    assert.ok(res.writesHeldMs !== undefined && res.writesHeldMs < 5000, `writes held ${res.writesHeldMs} ms`);
    t.diagnostic(`credential writes waited at most ${res.writesHeldMs} ms for the cut`);
    assert.ok(
      logs.some((l) => /online backup: Raft storage/.test(l)),
      'says it is online',
    );
    assert.ok(!logs.some((l) => /PAUSE/.test(l)), 'no pause announced');
    assert.deepEqual(
      a.cluster.nodes.map((n) => n.pid),
      pids,
      'no node was restarted',
    );
    await a.allUnsealed(1000);
    assert.deepEqual(await state(a), backedUp, 'a backup changes nothing');
    // Vault's snapshot is its own gzip'd tar; the archive keeps it as is.
    const dir = tempDir('raft-archive');
    assert.equal(spawnSync('tar', ['-xzf', res.file, '-C', dir]).status, 0);
    const inner = spawnSync('tar', ['-tzf', path.join(dir, 'vault-raft.snap')], { encoding: 'utf8' });
    assert.equal(inner.status, 0);
    assert.match(inner.stdout, /state\.bin/);
  });

  test('a backup while the app writes and deletes: writes only wait, none fails, and the cut is consistent', async (t) => {
    let stop = false;
    const statuses = new Map<number, number>();
    let n = 0;
    const load = (async () => {
      while (!stop) {
        n++;
        const type = `k${n % 7}`;
        const r =
          n % 3 === 0
            ? await a.request('DELETE', `/users/dave/credentials/${type}`)
            : await a.request('PUT', `/users/dave/credentials/${type}`, { data: { key: `d-${n}` } });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const res = await backup(a.target(), { outDir, log });
    busyArchive = res.file;
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await load;
    t.diagnostic(
      `${n} writes/deletes during the backup, by status ${JSON.stringify(Object.fromEntries(statuses))}; writes held ${res.writesHeldMs} ms`,
    );
    for (const s of statuses.keys())
      assert.ok([200, 201, 204, 404].includes(s), `only 2xx (or 404 for a delete of nothing): got ${s}`);
  });

  test('the cut: a credential write that starts while it is taken waits for it, then succeeds', async () => {
    const target = a.target();
    let during: Promise<number> | undefined;
    let settledDuringCut = false;
    const cut = await consistentCut(target.psql(undefined), async () => {
      during = a.request('PUT', '/users/erin/credentials/cut', { data: { key: v('erin') } }).then((r) => {
        settledDuringCut = true;
        return r.status;
      });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(settledDuringCut, false, 'the write waits while the barrier is held');
    });
    try {
      assert.equal(await during, 201, 'and goes through once it is released');
      // The exported snapshot is the state at the cut: without the row written after it.
      const dump = path.join(tempDir('cut-dump'), 'dump.sql');
      await target.pgDump(dump, undefined, cut.snapshot);
      const text = fs.readFileSync(dump, 'utf8');
      assert.match(text, /alice\tgithub/);
      assert.doesNotMatch(text, /erin\tcut/);
    } finally {
      await cut.finish();
    }
    assert.equal((await a.request('DELETE', '/users/erin/credentials/cut')).status, 204);
  });

  test('change and delete secrets and rows after the backup', async () => {
    assert.equal(
      (await a.request('PUT', '/users/alice/credentials/github', { data: { token: values.alice2 } })).status,
      200,
    );
    assert.equal((await a.request('DELETE', '/users/bob/credentials/aws')).status, 204);
    assert.equal((await a.request('PUT', '/users/carol/credentials/ssh', { data: { key: values.carol } })).status, 201);
    assert.notDeepEqual(await state(a), backedUp);
  });

  test('without confirmation a restore over the running cluster is refused and changes nothing', async () => {
    const before = await state(a);
    await assert.rejects(
      restore(a.target(), quietArchive, { confirm: false, scratchDir: outDir, log }),
      (err: unknown) => err instanceof BackupError && err.exitCode === 4 && /CONFIRM=1/.test(err.message),
    );
    assert.deepEqual(await state(a), before);
  });

  test('with a node down a restore is refused up front, naming the node, and changes nothing', async () => {
    const down = a.cluster.nodes[2]!;
    const before = await state(a);
    await down.kill();
    try {
      await assert.rejects(
        restore(a.target(), quietArchive, { confirm: true, scratchDir: outDir, log }),
        (err: unknown) =>
          err instanceof BackupError &&
          err.exitCode === 2 &&
          err.message.includes(`${down.addr} does not answer`) &&
          /Nothing was changed/.test(err.message),
      );
      assert.deepEqual(await state(a), before);
    } finally {
      await down.start();
      await a.allUnsealed();
    }
  });

  test('restore into the same cluster: exactly the backed-up state, every node unsealed, doctor 0/0', async (t) => {
    logs.length = 0;
    const res = await restore(a.target(), quietArchive, { confirm: true, scratchDir: outDir, log });
    t.diagnostic(`the app was down ${res.downMs} ms`);
    assert.ok(
      logs.some((l) => /same unseal keys/.test(l)),
      'no -force for its own snapshot',
    );
    await a.allUnsealed();
    assert.deepEqual(await state(a), backedUp);
    assert.deepEqual(res.doctor, { dangling: 0, orphans: 0, damaged: 0, remaining: 0, recoverable: 0, mismatched: 0 });
  });

  test('the backup taken under load restores consistent: doctor 0/0, every row resolves', async () => {
    const res = await restore(a.target(), busyArchive, { confirm: true, scratchDir: outDir, log });
    assert.equal(res.doctor.dangling, 0);
    assert.equal(res.doctor.orphans, 0);
    const rows = await a.rows();
    for (const row of rows) {
      const [user, type] = row.split('|');
      const r = await a.request('POST', `/users/${user}/credentials/${type}/resolve`);
      assert.equal(r.status, 200, `${user}/${type} resolves: ${r.text}`);
    }
  });

  test("restore into a brand-new cluster (other keys, root token revoked): -force, then unsealed with the archive's keys", async (t) => {
    await a.app.stop();
    await a.stopVaultInit();
    await a.cluster.stop();
    b = await HaStack.start({ postgres: a.postgres, vaultInitEnv: { VAULT_REVOKE_ROOT_TOKEN: 'true' } });
    logs.length = 0;
    const oldKeys = a.initMaterial().keys_base64;
    assert.notDeepEqual(b.initMaterial().keys_base64, oldKeys, 'a new cluster has its own keys');
    const res = await restore(b.target('ha-test-new'), quietArchive, { confirm: true, scratchDir: outDir, log });
    t.diagnostic(`restored into a new cluster; the app was down ${res.downMs} ms`);
    assert.ok(
      logs.some((l) => /generating a temporary one/.test(l)),
      "the new cluster's revoked root token was replaced by a temporary one",
    );
    assert.ok(
      logs.some((l) => /restoring with -force/.test(l)),
      "-force for another cluster's snapshot",
    );
    assert.deepEqual(b.initMaterial().keys_base64, oldKeys, "init.json is the archive's");
    await b.allUnsealed();
    assert.deepEqual(await state(b), backedUp);
    assert.deepEqual(res.doctor, { dangling: 0, orphans: 0, damaged: 0, remaining: 0, recoverable: 0, mismatched: 0 });
  });

  test('an archive of file storage is refused by a Raft stack, with the reason', async () => {
    const target = (b ?? a).target();
    // A file-storage archive is recognized by its members alone: make one from this one's parts.
    const dir = tempDir('fake-file-archive');
    assert.equal(spawnSync('tar', ['-xzf', quietArchive, '-C', dir]).status, 0);
    fs.renameSync(path.join(dir, 'vault-raft.snap'), path.join(dir, 'vault-data.tar'));
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
      storage?: string;
      parts: Record<string, unknown>;
    };
    delete manifest.storage;
    manifest.parts['vault-data.tar'] = manifest.parts['vault-raft.snap'];
    delete manifest.parts['vault-raft.snap'];
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    // Only the tar check of vault-data.tar stands between this and the storage check: give it a real tar.
    assert.equal(spawnSync('tar', ['-cf', path.join(dir, 'vault-data.tar'), '-C', dir, 'init.json']).status, 0);
    manifest.parts['vault-data.tar'] = sha256File(path.join(dir, 'vault-data.tar'));
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    const fake = path.join(dir, 'file-storage.tar.gz');
    assert.equal(
      spawnSync('tar', ['-czf', fake, '-C', dir, 'init.json', 'manifest.json', 'postgres.sql', 'vault-data.tar'])
        .status,
      0,
    );
    await assert.rejects(
      restore(target, fake, { confirm: true, scratchDir: outDir, log }),
      (err: unknown) =>
        err instanceof BackupError && /uses Raft/.test(err.message) && /Nothing was changed/.test(err.message),
    );
  });

  test('no secret value, unseal key or token in any line backup and restore printed', () => {
    const secrets = [
      ...Object.values(values),
      ...a.initMaterial().keys_base64,
      a.initMaterial().root_token,
      ...(b ? [...b.initMaterial().keys_base64, b.initMaterial().root_token] : []),
    ];
    const text = allLogs.join('\n');
    assert.ok(allLogs.length > 10, 'backup and restore said what they did');
    for (const s of secrets) assert.ok(!text.includes(s), `${s.slice(0, 6)}… in the backup/restore output`);
    assert.doesNotMatch(text, /\bhv[sbr]\.[A-Za-z0-9_-]{20,}/);
  });
});
