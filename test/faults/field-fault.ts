/**
 * What a field-fault suite proved, recorded into bench/results/reliability.json next to the fault suites' counts
 * (reliability.ts) so that the README's reliability section is generated from real runs of these suites too.
 *
 * A field-fault suite is a test file that turns one fault found in the field into tests: one fault kind, several
 * cases. It takes its `test` from `fieldFault(...)` instead of node:test: each test that passes counts as one case
 * checked (or as the number it declares with `cases(n)`, for a test that walks a table of cases), a failing one
 * marks the kind as failed. The record is written when the test process exits (node's runner gives every file its
 * own process), synchronously, as recordReliability is.
 */
import { test as nodeTest, type TestContext } from 'node:test';
import { recordReliability } from '../../bench/reliability.js';

export interface FieldFaultOptions {
  /** The fault kind, as a row title: what went wrong in the field. */
  fault: string;
  /** What the suite proves holds now, in one sentence. */
  outcome: string;
}

export interface FieldFaultProof {
  /** node:test's `test`, counting what passes. */
  test: typeof nodeTest;
  /** Declares that the running test checks `n` cases (a table-driven test); counted if it passes. */
  cases(n: number): void;
}

/** How one run of a field-fault suite ended: its tests as registered and as run, and the process's exit code. */
export interface FieldFaultRun {
  registered: number;
  passed: number;
  failed: number;
  exitCode: number;
}

/**
 * What the run proved: undefined when nothing ran and the process exited 0 (a name filter: the last real
 * record stands); otherwise whether the suite passed, which needs every registered test run and passed and the
 * process exiting 0. A failed before() runs none of the tests and fails the process: that is a failure.
 */
export function fieldFaultPassed(run: FieldFaultRun): boolean | undefined {
  if (run.passed + run.failed === 0 && run.exitCode === 0) return undefined;
  return run.failed === 0 && run.passed === run.registered && run.exitCode === 0;
}

/** The proof of the field-fault suite `id` (its file name without `.test.ts`); see the module comment. */
export function fieldFault(id: string, options: FieldFaultOptions): FieldFaultProof {
  let checked = 0;
  let passedTests = 0;
  let failedTests = 0;
  let registered = 0;
  let declared: number | undefined;
  const wrapped = ((...args: unknown[]) => {
    const at = args.findIndex((a) => typeof a === 'function');
    if (at >= 0) {
      registered++;
      const fn = args[at] as (t: TestContext) => unknown;
      args[at] = async (t: TestContext) => {
        declared = undefined;
        try {
          await fn(t);
          passedTests++;
          checked += declared ?? 1;
        } catch (err) {
          failedTests++;
          throw err;
        } finally {
          declared = undefined;
        }
      };
    }
    return (nodeTest as (...a: unknown[]) => unknown)(...args);
  }) as typeof nodeTest;
  process.once('exit', (code) => {
    const passed = fieldFaultPassed({
      registered,
      passed: passedTests,
      failed: failedTests,
      exitCode: code || Number(process.exitCode ?? 0),
    });
    if (passed === undefined) return;
    recordReliability(id, {
      title: options.fault,
      group: 'field-fault',
      passed,
      facts: [
        ['cases checked', checked],
        // A test that never ran (its before() failed) did not pass: it counts as failed.
        ['tests', Math.max(registered, passedTests + failedTests)],
        ['failed', Math.max(registered, passedTests + failedTests) - passedTests],
        ['outcome', options.outcome],
      ],
    });
  });
  return {
    test: wrapped,
    cases(n: number) {
      declared = (declared ?? 0) + n;
    },
  };
}
