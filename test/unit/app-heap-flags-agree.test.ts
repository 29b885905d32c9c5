// User story: as an operator I get the same app whatever starts it: the image's CMD, the Helm chart's command, the
// Kubernetes image this repository builds, `npm start`, `make native` and the test harness all put the app's heap
// flags (APP_NODE_FLAGS, packages/common/src/app-heap.ts) before its main script, so the memory the docs promise is
// the memory every stack sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { APP_NODE_FLAGS } from '@aurora/common';

const root = path.join(import.meta.dirname, '..', '..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

/** The JSON array of the one line of `text` that matches `line`, parsed. */
function commandIn(text: string, line: RegExp, file: string): string[] {
  const m = line.exec(text);
  assert.ok(m?.[1], `${file}: no app command found`);
  return JSON.parse(m[1]) as string[];
}

for (const [file, line, main] of [
  ['services/app/Dockerfile', /^CMD (\[.*\])$/m, 'dist/main.js'],
  ['deploy/helm/aurora-secrets/templates/app.yaml', /^\s*command: (\["node".*\])$/m, '/app/services/app/dist/main.js'],
  ['scripts/k8s/images.sh', /--cmd='(\["node","[^']*app\/dist\/main\.js"\])'/, '/app/services/app/dist/main.js'],
] as const) {
  test(`${file} starts the app with the heap flags`, () => {
    assert.deepEqual(commandIn(read(file), line, file), ['node', ...APP_NODE_FLAGS, main]);
  });
}

test('npm start -w services/app starts the app with the heap flags', () => {
  const pkg = JSON.parse(read('services/app/package.json')) as { scripts: { start: string } };
  assert.equal(pkg.scripts.start, ['node', ...APP_NODE_FLAGS, 'dist/main.js'].join(' '));
});

test('make native and the test harness start the app with the heap flags', () => {
  for (const file of ['scripts/native.ts', 'packages/process/src/app.ts', 'test/support/clients-app.ts']) {
    assert.match(
      read(file),
      /\.\.\.(this\.nodeFlags|APP_NODE_FLAGS), (appDist\(\)|(?:this\.)?main|path\.join\(root, 'services', 'app', 'dist', 'main\.js'\))/,
      file,
    );
  }
  assert.match(read('packages/process/src/app.ts'), /nodeFlags: readonly string\[\] = APP_NODE_FLAGS/);
  // A bench may run another checkout's build; every other start runs this checkout's.
  assert.match(read('packages/process/src/app.ts'), /readonly main: string = appDist\(\)/);
});
