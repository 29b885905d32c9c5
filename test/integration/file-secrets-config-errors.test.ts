// User story: a malformed SECRETS_CONFIG stops the app at start, with a message that names the entry and the
// field (every malformed shape's message is checked in test/unit/secrets-config-errors.test.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PostgresServer, repoRoot, tempDir, serviceNode } from '@aurora/process';

describe('SECRETS_CONFIG errors stop the app at start', () => {
  let postgres: PostgresServer;
  let dir: string;
  before(async () => {
    postgres = await PostgresServer.start();
    dir = tempDir('config-errors');
  });
  after(async () => {
    await postgres?.stop();
  });

  function start(config: string | undefined): { status: number | null; stderr: string } {
    const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
    if (config !== undefined) fs.writeFileSync(file, config);
    const res = spawnSync(serviceNode(), [path.join(repoRoot(), 'services', 'app', 'dist', 'main.js')], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 30_000,
      env: {
        PATH: process.env.PATH,
        ...postgres.env,
        PORT: '0',
        HOST: '127.0.0.1',
        VAULT_ADDR: 'http://127.0.0.1:1',
        VAULT_TOKEN: 'unused',
        SECRETS_CONFIG: file,
      },
    });
    return { status: res.status, stderr: res.stderr };
  }

  const cases: Array<[string, string | undefined, RegExp]> = [
    ['the file is missing', undefined, /SECRETS_CONFIG=.*: cannot read the file \(ENOENT\)/],
    ['not JSON', '{"secret": {', /not valid JSON/],
    [
      'a relative path',
      JSON.stringify({ secret: { 'client-secret': { path: 'run/x', scope: { resource_type: 'Client' } } } }),
      /secret\["client-secret"\]\.path: must be an absolute path/,
    ],
    [
      'no resource_type',
      JSON.stringify({ secret: { 'client-secret': { path: '/run/x', scope: { id: 'basic' } } } }),
      /secret\["client-secret"\]\.scope\.resource_type: missing/,
    ],
  ];
  for (const [name, config, message] of cases) {
    test(`${name}: the app exits with the entry and field named`, () => {
      const { status, stderr } = start(config);
      assert.notEqual(status, 0);
      assert.notEqual(status, null, 'exited rather than hung');
      assert.match(stderr, message);
    });
  }
});
