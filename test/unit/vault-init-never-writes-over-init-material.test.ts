// User story: vault-init saves new unseal keys where nothing else is. A write that must not replace (init.json)
// puts its crash-safe temp file in place with a hard link, so a file that appeared meanwhile is never written
// over: the write fails with EEXIST, leaves that file as it was and no temp file behind.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '@aurora/vault-init/fs-atomic';

describe('a crash-safe write that must not replace', () => {
  test('writes where nothing is, refuses where something is, and leaves no temp file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aurora-no-replace-'));
    try {
      const file = path.join(dir, 'init.json');
      const tmpFile = path.join(dir, 'init.json.tmp');
      await writeFileAtomic(file, 'ours\n', { mode: 0o600, tmpFile, replace: false });
      assert.equal(fs.readFileSync(file, 'utf8'), 'ours\n');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.ok(!fs.existsSync(tmpFile), 'the temp file is gone');

      await assert.rejects(writeFileAtomic(file, 'other\n', { tmpFile, replace: false }), { code: 'EEXIST' });
      assert.equal(fs.readFileSync(file, 'utf8'), 'ours\n', 'the file there is left as it was');
      assert.ok(!fs.existsSync(tmpFile), 'no temp file left behind');

      // The default still replaces: the AppRole and token files are rewritten in place.
      await writeFileAtomic(file, 'replaced\n', { tmpFile });
      assert.equal(fs.readFileSync(file, 'utf8'), 'replaced\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
