/**
 * The counts the fault, bad-input and field-fault suites report, merged into bench/results/reliability.json (suites run
 * in parallel: a lock directory serializes the read-modify-write, a rename makes the write atomic).
 * scripts/update-figures.ts turns the file into the README's reliability section.
 */
import fs from 'node:fs';
import path from 'node:path';

export type Fact = [string, number | string | boolean];

export interface SuiteRecord {
  title: string;
  /**
   * `field-fault`: a suite that turns one fault found in the field into cases (field-fault.ts), shown as one row per
   * fault kind; absent: a fault-injection or bad-input suite.
   */
  group?: 'field-fault';
  passed: boolean;
  updated: string;
  facts: Fact[];
}

export interface Reliability {
  suites: Record<string, SuiteRecord>;
}

export const RELIABILITY_FILE = path.resolve(import.meta.dirname, 'results', 'reliability.json');

export function readReliability(file = RELIABILITY_FILE): Reliability {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Reliability>;
    return { suites: parsed.suites ?? {} };
  } catch {
    return { suites: {} };
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Records one suite's counts (replacing its previous record). */
export function recordReliability(id: string, record: Omit<SuiteRecord, 'updated'>, file = RELIABILITY_FILE): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lock = `${file}.lock`;
  for (let i = 0; ; i++) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A lock older than 30 s belongs to a run that died: take it over.
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 30_000) fs.rmdirSync(lock);
      } catch {
        /* gone meanwhile */
      }
      if (i > 500) throw new Error(`could not lock ${lock}`);
      sleepSync(20);
    }
  }
  try {
    const current = readReliability(file);
    current.suites[id] = { ...record, updated: new Date().toISOString() };
    const ordered: Reliability = {
      suites: Object.fromEntries(Object.entries(current.suites).sort(([a], [b]) => a.localeCompare(b))),
    };
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(ordered, null, 2)}\n`);
    fs.renameSync(`${file}.tmp`, file);
  } finally {
    fs.rmdirSync(lock);
  }
}
