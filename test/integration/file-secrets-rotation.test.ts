// User story: a rotated file secret is used without a restart. Whether the file is rewritten in place,
// replaced by an atomic rename, or swapped the Kubernetes way (the `..data` symlink), the old value is refused
// and the new one accepted within 1 s, by the same app process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ClientsStack, defaultSecretsConfig, userClient } from '../support/clients-app.js';

const fresh = (tag: string) => `${tag}-${crypto.randomBytes(12).toString('hex')}`;

/** Kubernetes' AtomicWriter layout: <dir>/..<ts>/<name>, <dir>/..data -> ..<ts>, <dir>/<name> -> ..data/<name>. */
function k8sWrite(dir: string, name: string, value: string, generation: number): void {
  const ts = `..2026_11_25_12_00_0${generation}.${crypto.randomBytes(4).toString('hex')}`;
  fs.mkdirSync(path.join(dir, ts));
  fs.writeFileSync(path.join(dir, ts, name), value, { mode: 0o400 });
  const old = fs.existsSync(path.join(dir, '..data')) ? fs.readlinkSync(path.join(dir, '..data')) : undefined;
  fs.symlinkSync(ts, path.join(dir, '..data_tmp'));
  fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  if (!fs.existsSync(path.join(dir, name))) fs.symlinkSync(path.join('..data', name), path.join(dir, name));
  if (old) fs.rmSync(path.join(dir, old), { recursive: true });
}

describe('file secret rotation without restart', () => {
  let stack: ClientsStack;
  const dirs = { inplace: '', rename: '', k8s: '' };
  before(async () => {
    stack = await ClientsStack.start({
      secretsConfig: (root) => {
        const base = defaultSecretsConfig(root) as { secret: Record<string, unknown> };
        for (const kind of Object.keys(dirs) as Array<keyof typeof dirs>) {
          dirs[kind] = path.join(root, kind);
          fs.mkdirSync(dirs[kind]);
          base.secret[`${kind}-secret`] = {
            path: path.join(dirs[kind], `${kind}-secret`),
            scope: { resource_type: 'Client', id: kind },
          };
        }
        return base;
      },
    });
    for (const kind of Object.keys(dirs)) {
      assert.equal(
        (
          await stack.request('PUT', `/fhir/Client/${kind}`, {
            auth: stack.admin(),
            body: userClient(kind, `${kind}-secret`),
          })
        ).status,
        201,
      );
    }
  });
  after(async () => {
    await stack?.stop();
  });

  const status = async (id: string, secret: string) =>
    (await stack.request('GET', '/fhir/Patient', { auth: [id, secret] })).status;

  /** Rotates with `write`, then measures until the new value is accepted and the old refused. */
  async function rotate(id: string, write: (value: string, generation: number) => void): Promise<void> {
    const pid = stack.appPid;
    const values = [fresh(`${id}-v1`), fresh(`${id}-v2`), fresh(`${id}-v3`)];
    write(values[0]!, 1);
    // The first value: read once, now cached.
    const deadline0 = Date.now() + 1000;
    while ((await status(id, values[0]!)) !== 200) assert.ok(Date.now() < deadline0, 'the first value is accepted');
    for (let g = 1; g < values.length; g++) {
      const [old, next] = [values[g - 1]!, values[g]!];
      assert.equal(await status(id, old), 200, 'cached and accepted before the rotation');
      write(next, g + 1);
      const started = Date.now();
      for (;;) {
        const [n, o] = [await status(id, next), await status(id, old)];
        if (n === 200 && o === 401) break;
        assert.ok(Date.now() - started <= 1000, `rotation ${g} of ${id} seen within 1 s (new ${n}, old ${o})`);
        await new Promise((r) => setTimeout(r, 25));
      }
      const elapsed = Date.now() - started;
      assert.ok(elapsed <= 1000, `took ${elapsed} ms`);
      for (let i = 0; i < 3; i++) assert.equal(await status(id, old), 401, 'the old value stays refused');
    }
    assert.equal(stack.appPid, pid, 'no restart');
    assert.deepEqual(stack.leaks(values), []);
  }

  test('in-place rewrite (same inode)', async () => {
    const file = path.join(dirs.inplace, 'inplace-secret');
    await rotate('inplace', (value) => fs.writeFileSync(file, value, { mode: 0o600 }));
  });

  test('atomic rename over the file (what the Vault agent does)', async () => {
    const file = path.join(dirs.rename, 'rename-secret');
    await rotate('rename', (value, g) => {
      const tmp = path.join(dirs.rename, `.rename-secret.${g}.tmp`);
      fs.writeFileSync(tmp, value, { mode: 0o400 });
      fs.renameSync(tmp, file);
    });
  });

  test('the Kubernetes ..data symlink swap (what the CSI driver and kubelet do)', async () => {
    await rotate('k8s', (value, g) => k8sWrite(dirs.k8s, 'k8s-secret', value, g));
  });
});
