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

/** The proof of the field-fault suite `id` (its file name without `.test.ts`); see the module comment. */
export function fieldFault(id: string, options: FieldFaultOptions): FieldFaultProof {
  let checked = 0;
  let passedTests = 0;
  let failedTests = 0;
  let declared: number | undefined;
  const wrapped = ((...args: unknown[]) => {
    const at = args.findIndex((a) => typeof a === 'function');
    if (at >= 0) {
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
  process.once('exit', () => {
    // Nothing ran (a name filter, a file that failed to load): leave the last real record as it is.
    if (passedTests + failedTests === 0) return;
    recordReliability(id, {
      title: options.fault,
      group: 'field-fault',
      passed: failedTests === 0,
      facts: [
        ['cases checked', checked],
        ['tests', passedTests + failedTests],
        ['failed', failedTests],
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
