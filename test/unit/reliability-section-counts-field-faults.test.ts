// User story: as a reader of the README I see, next to the fault-injection suites, one row per fault kind found in
// the field: how many cases its suite checked on its last run, what it proves, and whether it passed. The section
// is generated from bench/results/reliability.json, which the suites themselves write (test/faults/field-fault.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renderReliability } from '../../scripts/update-figures.js';
import type { Reliability } from '../../bench/reliability.js';
import { fieldFaultPassed } from '../faults/field-fault.js';

const reliability: Reliability = {
  suites: {
    'vault-kill9': {
      title: 'kill -9 of Vault during writes',
      passed: true,
      updated: '2026-11-29T23:00:00.000Z',
      facts: [
        ['faults', 1],
        ['acknowledged (2xx)', 30],
        ['acknowledged but lost', 0],
      ],
    },
    'ids-round-trip-through-urls': {
      title: 'Ids that cannot round-trip through a URL',
      group: 'field-fault',
      passed: true,
      updated: '2026-11-29T23:10:00.000Z',
      facts: [
        ['cases checked', 57],
        ['tests', 3],
        ['failed', 0],
        ['outcome', 'refused with a 400 naming the field'],
      ],
    },
    'token-lifetimes-short-ttl': {
      title: 'Vault tokens that expired silently',
      group: 'field-fault',
      passed: false,
      updated: '2026-11-29T23:20:00.000Z',
      facts: [
        ['cases checked', 2],
        ['tests', 3],
        ['failed', 1],
        ['outcome', 'renewed before expiry'],
      ],
    },
  },
};

describe("the README's reliability section counts the field-fault suites", () => {
  const text = renderReliability(reliability);

  test('one row per fault kind: cases checked, outcome, result', () => {
    assert.ok(
      text.includes(
        '| Ids that cannot round-trip through a URL | `ids-round-trip-through-urls` | 57 | refused with a 400 naming the field | passed | 2026-11-29 23:10 |',
      ),
      text,
    );
    assert.ok(text.includes('| Vault tokens that expired silently | `token-lifetimes-short-ttl` | 2 |'), text);
    assert.match(text, /\*\*failed\*\* \(1 of 3 tests\)/);
  });

  test('the summary line counts them, and a failed one shows', () => {
    assert.match(text, /59 cases of 2 fault kinds found in the field; \*\*1 suite\(s\) failed\*\*/);
  });

  test('field-fault rows stay out of the fault-injection table', () => {
    const faultTable = text.split('\n\nFaults found in the field')[0]!;
    assert.doesNotMatch(faultTable, /cases checked/);
    assert.match(faultTable, /\| kill -9 of Vault during writes \| passed \|/);
  });
});

describe('what a field-fault suite records when its run ends', () => {
  test('every registered test ran and passed, exit 0: passed', () => {
    assert.equal(fieldFaultPassed({ registered: 3, passed: 3, failed: 0, exitCode: 0 }), true);
  });

  test('a failed before(): no test ran and the process exits non-zero, so the last "passed" is replaced', () => {
    assert.equal(fieldFaultPassed({ registered: 3, passed: 0, failed: 0, exitCode: 1 }), false);
  });

  test('a failed after() or hook with every test passed: failed', () => {
    assert.equal(fieldFaultPassed({ registered: 2, passed: 2, failed: 0, exitCode: 1 }), false);
  });

  test('a registered test never ran: failed', () => {
    assert.equal(fieldFaultPassed({ registered: 3, passed: 2, failed: 0, exitCode: 0 }), false);
  });

  test('a failing test: failed', () => {
    assert.equal(fieldFaultPassed({ registered: 3, passed: 2, failed: 1, exitCode: 1 }), false);
  });

  test('nothing ran and exit 0 (a name filter): no record, the last real one stands', () => {
    assert.equal(fieldFaultPassed({ registered: 3, passed: 0, failed: 0, exitCode: 0 }), undefined);
  });
});
