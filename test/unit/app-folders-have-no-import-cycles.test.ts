// User story: a reader can take the app's folders (auth, fhir, credentials, file-secrets, http, ...) in an
// order where each only imports from folders before it (the top-level main, config and context aside): no
// two folders import from each other, directly or around a loop. Read from the source's own import lines.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.join(import.meta.dirname, '..', '..', 'services', 'app', 'src');

function folderEdges(): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) {
        const from = path.relative(SRC, dir) || '.';
        for (const m of fs.readFileSync(full, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
          const target = path.relative(SRC, path.dirname(path.resolve(dir, m[1] as string))) || '.';
          // The top-level files (main, config, context) are the composition root and the shared types, not a
          // folder: every folder may use them, and main imports everything.
          if (target !== from && from !== '.' && target !== '.')
            edges.set(from, (edges.get(from) ?? new Set()).add(target));
        }
      }
    }
  };
  walk(SRC);
  return edges;
}

describe('the app folders', () => {
  test('have no import cycle', () => {
    const edges = folderEdges();
    const cycles: string[] = [];
    const visit = (node: string, trail: string[]) => {
      for (const next of edges.get(node) ?? []) {
        const at = trail.indexOf(next);
        if (at !== -1) cycles.push([...trail.slice(at), next].join(' -> '));
        else visit(next, [...trail, next]);
      }
    };
    for (const node of edges.keys()) visit(node, [node]);
    assert.ok(edges.get('auth')?.has('fhir'), 'the graph is read (auth imports fhir)');
    assert.deepEqual([...new Set(cycles)], []);
  });
});
