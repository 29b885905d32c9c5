// User story: a file secret rotated by any writer is used within the revalidation interval, by the same app
// process, and the old value is refused from then on — whatever the writer preserved (size, modification time:
// `cp --preserve=timestamps`, `rsync -a`, `tar x` and `docker cp` keep it) and whatever happened to the directory
// (removed and made again, as a remount or `rm -rf` + `tar x` does). Each writer is tried on a live directory and
// on one that was removed and recreated first: an in-place overwrite of the same length keeping the mtime, a
// truncate-and-rewrite, a rename over the file, the Kubernetes `..data` symlink swap, and 100 quick rotations.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ClientsStack, defaultSecretsConfig, userClient } from '../support/clients-app.js';
import { fieldFault } from '../faults/field-fault.js';

const { test } = fieldFault('file-secrets-rotation-any-writer', {
  fault: 'A file-secret rotation the app never saw',
  outcome:
    'every writer (in-place same-length overwrite with mtime kept, truncate, rename, symlink swap, 100 rotations) seen, on a live and on a recreated directory',
});

/** FILE_SECRET_REVALIDATE_MS of the app under test; a change must be seen within it (plus a busy machine's slack). */
const REVALIDATE_MS = 300;
const SEEN_WITHIN_MS = REVALIDATE_MS + 1200;

/** Same tag, same length: the new value is exactly as long as the old one. */
const fresh = (tag: string) => `${tag}-${crypto.randomBytes(12).toString('hex')}`;

function run(cmd: string, args: string[]): void {
  const res = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(res.status, 0, `${cmd} ${args.join(' ')}: ${res.stderr}`);
}

/** Overwrites `file` in place (same inode) with `value`, then gives it back its old mtime, to the nanosecond. */
function overwriteKeepingMtime(file: string, value: string, scratch: string): void {
  const src = path.join(scratch, `${path.basename(file)}.src`);
  fs.writeFileSync(src, value);
  // What `cp --preserve=timestamps`, `rsync -a` and `tar x` do: the content changes, the timestamps do not.
  run('touch', ['-r', file, src]);
  run('cp', ['--preserve=timestamps', src, file]);
  fs.rmSync(src);
}

/** Truncates `file` to nothing and writes `value` into the same inode; the mtime is put back as it was. */
function truncateAndRewrite(file: string, value: string, scratch: string): void {
  const ref = path.join(scratch, `${path.basename(file)}.ref`);
  fs.writeFileSync(ref, '');
  run('touch', ['-r', file, ref]);
  fs.truncateSync(file, 0);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, value);
  fs.closeSync(fd);
  run('touch', ['-r', ref, file]);
  fs.rmSync(ref);
}

/** A new file renamed over the old one, with the old one's mtime (an inode number may even be reused). */
function renameOver(file: string, value: string): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, value, { mode: 0o600 });
  run('touch', ['-r', file, tmp]);
  fs.renameSync(tmp, file);
}

/** Kubernetes' AtomicWriter layout: <dir>/..<ts>/<name>, <dir>/..data -> ..<ts>, <dir>/<name> -> ..data/<name>. */
function k8sWrite(file: string, value: string): void {
  const [dir, name] = [path.dirname(file), path.basename(file)];
  const ts = `..2026_11_29_12_00_00.${crypto.randomBytes(6).toString('hex')}`;
  fs.mkdirSync(path.join(dir, ts));
  fs.writeFileSync(path.join(dir, ts, name), value, { mode: 0o400 });
  const old = fs.existsSync(path.join(dir, '..data')) ? fs.readlinkSync(path.join(dir, '..data')) : undefined;
  fs.symlinkSync(ts, path.join(dir, '..data_tmp'));
  fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  if (!fs.existsSync(path.join(dir, name))) fs.symlinkSync(path.join('..data', name), path.join(dir, name));
  if (old) fs.rmSync(path.join(dir, old), { recursive: true });
}

type Writer = (file: string, value: string, scratch: string) => void;
const WRITERS: Record<string, { write: Writer; k8s?: boolean }> = {
  inplace: { write: overwriteKeepingMtime },
  truncate: { write: truncateAndRewrite },
  rename: { write: (file, value) => renameOver(file, value) },
  symlink: { write: (file, value) => k8sWrite(file, value), k8s: true },
  quick: { write: overwriteKeepingMtime },
};
const STATES = ['live', 'recreated'] as const;

describe('file secret rotation, whatever the writer and the directory', () => {
  let stack: ClientsStack;
  let scratch = '';
  const values: string[] = [];
  const dirOf = (id: string) => path.join(stack.secretsDir, id);
  const fileOf = (id: string) => path.join(dirOf(id), `${id}-secret`);
  const ids = Object.keys(WRITERS).flatMap((w) => STATES.map((s) => `${w}-${s}`));
  const next = (id: string) => {
    const v = fresh(`${id}-value`);
    values.push(v);
    return v;
  };
  const current = new Map<string, string>();

  before(async () => {
    stack = await ClientsStack.start({
      env: { FILE_SECRET_REVALIDATE_MS: String(REVALIDATE_MS), AUTH_MAX_FAILURES: '10000' },
      secretsConfig: (root) => {
        const base = defaultSecretsConfig(root) as { secret: Record<string, unknown> };
        for (const id of ids) {
          const dir = path.join(root, id);
          fs.mkdirSync(dir);
          base.secret[`${id}-secret`] = {
            path: path.join(dir, `${id}-secret`),
            scope: { resource_type: 'Client', id },
          };
        }
        return base;
      },
    });
    scratch = fs.mkdtempSync(path.join(stack.dir, 'scratch-'));
    for (const id of ids) {
      const v = next(id);
      if (WRITERS[id.split('-')[0]!]!.k8s) k8sWrite(fileOf(id), v);
      else fs.writeFileSync(fileOf(id), v, { mode: 0o600 });
      current.set(id, v);
      const res = await stack.request('PUT', `/fhir/Client/${id}`, {
        auth: stack.admin(),
        body: userClient(id, `${id}-secret`),
      });
      assert.equal(res.status, 201, res.text);
    }
  });
  after(async () => {
    await stack?.stop();
  });

  const status = async (id: string, secret: string) =>
    (await stack.request('GET', '/fhir/Patient', { auth: [id, secret] })).status;

  /** Waits until `fresh` is accepted and `old` refused; returns how long that took (ms). */
  async function seen(id: string, old: string, value: string, what: string): Promise<number> {
    const started = Date.now();
    for (;;) {
      const [n, o] = [await status(id, value), await status(id, old)];
      if (n === 200 && o === 401) return Date.now() - started;
      assert.ok(
        Date.now() - started <= SEEN_WITHIN_MS,
        `${what}: seen within ${SEEN_WITHIN_MS} ms (new ${n}, old ${o})`,
      );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The directory removed and made again with the secret in it (plain file, or the k8s layout). */
  async function recreate(id: string, k8s: boolean): Promise<void> {
    const old = current.get(id)!;
    fs.rmSync(dirOf(id), { recursive: true });
    fs.mkdirSync(dirOf(id));
    const v = next(id);
    if (k8s) k8sWrite(fileOf(id), v);
    else fs.writeFileSync(fileOf(id), v, { mode: 0o600 });
    current.set(id, v);
    await seen(id, old, v, `${id}: the recreated directory's value`);
  }

  for (const [writer, { write, k8s }] of Object.entries(WRITERS)) {
    for (const state of STATES) {
      const id = `${writer}-${state}`;
      const rotations = writer === 'quick' ? 100 : 3;
      test(`${writer === 'quick' ? '100 quick rotations in a row' : writer} on a ${state} directory`, async () => {
        const pid = stack.appPid;
        assert.equal(await status(id, current.get(id)!), 200, 'the current value is accepted (and cached)');
        if (state === 'recreated') await recreate(id, k8s === true);
        let slowest = 0;
        for (let g = 1; g <= rotations; g++) {
          const old = current.get(id)!;
          assert.equal(await status(id, old), 200, `rotation ${g}: the old value is cached and accepted before it`);
          const v = next(id);
          write(fileOf(id), v, scratch);
          current.set(id, v);
          slowest = Math.max(slowest, await seen(id, old, v, `${id} rotation ${g}`));
          for (let i = 0; i < 2; i++) assert.equal(await status(id, old), 401, 'the old value stays refused');
        }
        assert.ok(slowest <= SEEN_WITHIN_MS, `slowest rotation ${slowest} ms`);
        assert.equal(stack.appPid, pid, 'no restart');
      });
    }
  }

  test('no secret value reached a response, the log or the database', () => {
    assert.deepEqual(stack.leaks(values), []);
  });
});
