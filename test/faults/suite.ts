/**
 * The shape every fault story shares: a stack (real Vault, PostgreSQL, vault-init, app), a write + resolve
 * load, one or more faults each with its heal, then the same five checks, and the counts recorded for the
 * README's reliability section (bench/results/reliability.json).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialsStack } from '@aurora/process';
import { expectDoctorRepairs, expectNothingLost, leakScan, WriteLoad } from './load.js';
import { recordReliability } from '../../bench/reliability.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FaultContext {
  stack: CredentialsStack;
  load: WriteLoad;
  /** Causes a fault, holds it for `holdMs`, heals it, then waits until a write is acknowledged again. */
  fault(
    name: string,
    cause: () => Promise<void> | void,
    heal: () => Promise<void> | void,
    holdMs?: number,
  ): Promise<void>;
}

export interface FaultSuiteOptions {
  id: string;
  title: string;
  /** Env for the app (CACHE_TTL_SECONDS=0 and short timeouts by default). */
  env?: Record<string, string>;
  /** After the stack is up, before the load starts (e.g. put proxies in front of Vault and PostgreSQL). */
  prepare?: (stack: CredentialsStack) => Promise<void>;
  scenario: (ctx: FaultContext) => Promise<void>;
  /**
   * The scenario kills Vault -9: its file storage may keep the temporary file of the write in progress, which
   * doctor reports as a damaged folder. The doctor check then traces each one to a write in flight at the kill
   * and removes it as docs/operations.md says, before it requires `doctor --repair` to reach 0.
   */
  vaultKilled?: boolean;
  /** Extra log files to scan for canaries. */
  logs?: () => string[];
  cleanup?: () => Promise<void>;
}

export function faultSuite(options: FaultSuiteOptions): void {
  const seeded = `canary-${options.id}-seed-${Math.random().toString(36).slice(2, 10)}`;
  describe(options.title, () => {
    let stack: CredentialsStack;
    let load: WriteLoad;
    let appPid: number | undefined;
    const recovery: Array<[string, number]> = [];
    const passed = new Set<string>();
    const facts: Record<string, number | string> = {};

    before(async () => {
      stack = await CredentialsStack.start({
        env: {
          CACHE_TTL_SECONDS: '0',
          VAULT_TIMEOUT_MS: '1000',
          PG_CONNECT_TIMEOUT_MS: '1000',
          PG_STATEMENT_TIMEOUT_MS: '1000',
          ...options.env,
        },
      });
      await options.prepare?.(stack);
      appPid = stack.app.pid;
      const seed = await stack.request('PUT', `/users/${options.id}/credentials/seed`, {
        auth: 'writer',
        body: { data: { value: seeded } },
      });
      assert.equal(seed.status, 201, seed.text);
      load = new WriteLoad(stack, { userId: options.id, tag: options.id, resolveType: 'seed', resolveValue: seeded });
      load.start();
      try {
        await sleep(1000);
        await options.scenario({
          stack,
          load,
          async fault(name, cause, heal, holdMs = 2500) {
            const from = Date.now();
            await cause();
            await sleep(holdMs);
            await heal();
            const healed = Date.now();
            load.mark(name, from, healed);
            recovery.push([name, await load.recovered(healed)]);
            await sleep(500);
          },
        });
      } finally {
        await load.stop();
      }
    });

    after(async () => {
      await load?.stop();
      if (load) {
        const c = load.counts();
        recordReliability(options.id, {
          title: options.title,
          passed: passed.size === 5,
          facts: [
            ['faults', load.windows.length],
            ['writes', c.writes],
            ['acknowledged (2xx)', c.acknowledged],
            ['503 + Retry-After', c.answers503],
            ['other answers', facts.bad ?? 'n/a'],
            ['acknowledged but lost', facts.lost ?? 'n/a'],
            ['recovered without restart', recovery.map(([, ms]) => `${ms} ms`).join(', ') || 'n/a'],
            ['doctor --repair fixed', facts.repaired ?? 'n/a'],
            ['dangling / orphans after', facts.leftover ?? 'n/a'],
            ['canary hits', facts.leaks ?? 'n/a'],
          ],
        });
      }
      await stack?.stop();
      await options.cleanup?.();
    });

    test('during each fault: 503 with Retry-After; never a 500, a hang or a wrong value', () => {
      const bad = load.badAnswers();
      facts.bad = bad.length;
      assert.deepEqual(bad.slice(0, 20), []);
      assert.ok(load.windows.length > 0);
      for (const w of load.windows) {
        const during = load.during(w);
        assert.ok(
          during.some((a) => a.status === 503),
          `${w.name}: no 503 during the fault (${during.length} answers: ${JSON.stringify(during.slice(0, 5).map((a) => a.status))})`,
        );
      }
      passed.add('answers');
    });

    test('after each fault the same app process acknowledges writes again, no restart', () => {
      assert.equal(recovery.length, load.windows.length);
      assert.equal(stack.app.pid, appPid);
      assert.ok(stack.app.running);
      passed.add('recovered');
    });

    test('doctor --repair: 0 dangling references and 0 orphans afterwards', async (t) => {
      const torn = await expectDoctorRepairs(stack, facts, options.vaultKilled ? load : undefined);
      if (options.vaultKilled) {
        t.diagnostic(
          `damaged entries after the kill: ${torn.damaged}${torn.writes.length ? ` (torn files of unacknowledged writes in flight at the kill, removed by hand: ${torn.writes.join(', ')})` : ''}`,
        );
      }
      passed.add('doctor');
    });

    test('every write acknowledged with 2xx is readable through resolve and directly in Vault', async () => {
      await expectNothingLost(stack, load, facts);
      passed.add('lost');
    });

    test('leak scan: no value in a response, a log (app, doctor, vault-init, Vault audit, PostgreSQL) or pg_dump', () => {
      const canaries = [seeded, ...load.values()];
      const scan = leakScan(stack, load, canaries, options.logs?.() ?? []);
      facts.leaks = `${scan.hits.length} (${canaries.length} canaries × ${scan.haystacks} places)`;
      assert.deepEqual(scan.hits.slice(0, 20), []);
      passed.add('leaks');
    });
  });
}
