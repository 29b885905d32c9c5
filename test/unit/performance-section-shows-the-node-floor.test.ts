// User story: as a reader of docs/performance.md I see, beside the app's rows, what a bare node:http proxy to the
// same Vault reads reaches in the same run (bench/floor-proxy.ts), and what the same crash-safe writes reach on bare
// node:http and pg, so that I can tell the app's own cost from what any Node process in front of Vault (and
// PostgreSQL) pays on that machine. Results recorded before the floors existed still render.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { renderPerformance } from '../../scripts/update-figures.js';
import type { BenchResults, Series } from '../../bench/targets.js';

const recorded = JSON.parse(
  fs.readFileSync(path.join(import.meta.dirname, '../../bench/results/2026-11-30T07-40-47-488Z.json'), 'utf8'),
) as BenchResults;

function cell(rps: number, p50Ms: number): NonNullable<Series[string]> {
  const common = { connections: 8, durationS: 5, requests: rps * 5, ok: rps * 5, non2xx: 0, errors: 0 };
  return { ...common, rps, p50Ms, p99Ms: p50Ms * 3, meanMs: p50Ms, cpuCores: { app: 0.3, vault: 1.3 } };
}

test('a run that measured the floor shows its row and how far it is from raw Vault', () => {
  const withFloor: BenchResults = {
    ...recorded,
    floor: { '1': cell(300, 3.2), '8': cell(700, 11), '32': cell(720, 40) },
  };
  const text = renderPerformance(withFloor);
  assert.match(text, /\| floor: a bare node:http proxy to the same reads \| 8 \| 700 \|/);
  const raw8 = recorded.raw.read['8']?.rps as number;
  assert.match(
    text,
    new RegExp(`any Node process in front of Vault pays on this machine: ${(700 / raw8).toFixed(2)} ×`),
  );
  const added = (3.2 - (recorded.raw.read['1']?.p50Ms as number)).toFixed(2);
  assert.match(text, new RegExp(`${added.replace('.', '\\.')} ms added to the p50 at concurrency 1`));
});

test('a run that measured the write floor shows its row and how far it is from raw Vault', () => {
  const withFloor: BenchResults = {
    ...recorded,
    floorWrite: { '1': cell(150, 6), '8': cell(320, 20), '32': cell(400, 70) },
  };
  const text = renderPerformance(withFloor);
  assert.match(text, /\| floor: the same writes on bare node:http and pg \| 8 \| 320 \|/);
  const ratio = (320 / (recorded.raw.write['8']?.rps as number)).toFixed(2);
  assert.match(text, new RegExp(`a crash-safe write through any Node process pays here: ${ratio} ×`));
});

test('results from before the floor render without it', () => {
  const text = renderPerformance(recorded);
  assert.doesNotMatch(text, /floor/);
  assert.match(text, /\| resolve, cache miss \(CACHE_TTL_SECONDS=0\) \| 8 \|/);
});
