// User story: the app itself is killed -9 while API clients write credentials (OOM, `docker kill`), several
// times. A write cut between its Vault write and its row commit leaves a secret without a reference: the
// one thing the app cannot undo itself. After the restarts `doctor` lists what was left, `doctor --repair`
// fixes it, and then there are 0 dangling references and 0 orphans; every write acknowledged with 2xx before
// a kill is still readable (resolve and Vault), and no value reached a log, a response or the database.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lastJsonLine, CredentialsStack } from '@aurora/process';
import { expectDoctorRepairs, expectNothingLost, leakScan, WriteLoad } from './load.js';
import { recordReliability } from '../../bench/reliability.js';
import { sleep } from './suite.js';

const KILLS = Number(process.env.APP_KILL9_RUNS ?? 5);
const SEEDED = `canary-app-kill9-seed-${Math.random().toString(36).slice(2, 10)}`;

describe(`kill -9 of the app during writes, ${KILLS} times`, () => {
  let stack: CredentialsStack;
  let load: WriteLoad;
  const facts: Record<string, number | string> = {};
  const passed = new Set<string>();

  before(async () => {
    stack = await CredentialsStack.start({ env: { CACHE_TTL_SECONDS: '0' } });
    const seed = await stack.request('PUT', '/users/appk9/credentials/seed', {
      auth: 'writer',
      body: { data: { value: SEEDED } },
    });
    assert.equal(seed.status, 201, seed.text);
    load = new WriteLoad(stack, {
      userId: 'appk9',
      tag: 'appk9',
      writers: 6,
      resolvers: 0,
      resolveType: 'seed',
      resolveValue: SEEDED,
    });
    for (let i = 0; i < KILLS; i++) {
      load.start();
      await sleep(400 + Math.random() * 600);
      await stack.app.kill();
      await load.stop();
      await stack.app.startProcess();
      await stack.app.waitReady();
    }
  });

  after(async () => {
    if (load) {
      const c = load.counts();
      recordReliability('app-kill9', {
        title: 'kill -9 of the app during writes',
        passed: passed.size === 3,
        facts: [
          ['kills', KILLS],
          ['writes', c.writes],
          ['acknowledged (2xx)', c.acknowledged],
          ['acknowledged but lost', facts.lost ?? 'n/a'],
          ['left by the kills (doctor)', facts.found ?? 'n/a'],
          ['doctor --repair fixed', facts.repaired ?? 'n/a'],
          ['dangling / orphans after', facts.leftover ?? 'n/a'],
          ['canary hits', facts.leaks ?? 'n/a'],
        ],
      });
    }
    await stack?.stop();
  });

  test('doctor lists what the kills left, --repair fixes it: 0 dangling references and 0 orphans', async () => {
    const first = await stack.app.doctorAsync(['--json']);
    const found = lastJsonLine<{ dangling: number; orphans: number }>(first.stdout);
    facts.found = `${found.dangling ?? '?'} dangling, ${found.orphans ?? '?'} orphans`;
    await expectDoctorRepairs(stack, facts);
    passed.add('doctor');
  });

  test('every write acknowledged with 2xx before a kill is readable through resolve and in Vault', async () => {
    await expectNothingLost(stack, load, facts);
    passed.add('lost');
  });

  test('leak scan: no value in a response, a log or pg_dump', () => {
    const canaries = [SEEDED, ...load.values()];
    const scan = leakScan(stack, load, canaries);
    facts.leaks = `${scan.hits.length} (${canaries.length} canaries × ${scan.haystacks} places)`;
    assert.deepEqual(scan.hits.slice(0, 20), []);
    passed.add('leaks');
  });
});
