// The import rules of docs/architecture.md ("The code"), checked on every TypeScript file of the repository:
// packages and services import each other only by package name and only downwards (services → common,
// process → common), never a relative path into another package; nothing outside test/ imports from test/;
// node-vault is imported by the one Vault client alone.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '@aurora/process';

type Area = 'common' | 'process' | 'vault-init' | 'app' | 'tooling';

/** What each area may import of the workspace (besides itself and npm packages). */
const ALLOWED: Record<Area, readonly Area[]> = {
  common: [],
  process: ['common'],
  'vault-init': ['common'],
  app: ['common'],
  // scripts/, test/, bench/: the operator's and developer's tools, over the packages.
  tooling: ['common', 'process', 'vault-init', 'app'],
};
const PACKAGE_DIRS: Array<[string, Area]> = [
  ['packages/common/', 'common'],
  ['packages/process/', 'process'],
  ['services/vault-init/', 'vault-init'],
  ['services/app/', 'app'],
];
const PACKAGE_NAMES: Array<[string, Area]> = [
  ['@aurora/common', 'common'],
  ['@aurora/process', 'process'],
  ['@aurora/vault-init', 'vault-init'],
  ['@aurora/app', 'app'],
];
/** The one Vault client: the only files that may import node-vault. */
const VAULT_CLIENT = /^packages\/common\/src\/(vault-client\.ts|vault\/)/;

function areaOfFile(rel: string): Area {
  return PACKAGE_DIRS.find(([dir]) => rel.startsWith(dir))?.[1] ?? 'tooling';
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'dist', '.git', '.native', 'results'].includes(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sourceFiles(p, out);
    else if (/\.(ts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function importsOf(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s*['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  return specs;
}

describe('import boundaries (docs/architecture.md)', () => {
  const root = repoRoot();
  const files = ['packages', 'services', 'scripts', 'test', 'bench']
    .flatMap((d) => sourceFiles(path.join(root, d)))
    .concat(fs.existsSync(path.join(root, 'eslint.config.js')) ? [path.join(root, 'eslint.config.js')] : []);

  test('the rules are checked on the whole repository', () => {
    assert.ok(files.length > 100, `${files.length} files`);
  });

  test('packages import only downwards, by name; no relative path crosses a package', () => {
    const problems: string[] = [];
    for (const file of files) {
      const rel = path.relative(root, file).split(path.sep).join('/');
      const from = areaOfFile(rel);
      for (const spec of importsOf(fs.readFileSync(file, 'utf8'))) {
        let to: Area | undefined;
        if (spec.startsWith('.')) {
          const target = path
            .relative(root, path.resolve(path.dirname(file), spec))
            .split(path.sep)
            .join('/');
          to = areaOfFile(target);
          if (to !== from && to !== 'tooling')
            problems.push(`${rel}: relative import ${spec} reaches into ${to}; import it by its package name`);
          if (to !== from && to === 'tooling' && from !== 'tooling')
            problems.push(`${rel}: ${spec} reaches out of its package into ${target}`);
          if (target.startsWith('test/') && !rel.startsWith('test/'))
            problems.push(`${rel}: imports ${target}; only tests import from test/ (use @aurora/process or a package)`);
          continue;
        }
        to = PACKAGE_NAMES.find(([name]) => spec === name || spec.startsWith(`${name}/`))?.[1];
        if (spec === 'node-vault' && !VAULT_CLIENT.test(rel))
          problems.push(`${rel}: imports node-vault; only the Vault client in packages/common does`);
        if (to && to !== from && !ALLOWED[from].includes(to)) problems.push(`${rel} (${from}) may not import ${spec}`);
      }
    }
    assert.deepEqual(problems, []);
  });
});
