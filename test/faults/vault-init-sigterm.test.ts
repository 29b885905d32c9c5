// User story: I press Ctrl-C during my first `make prod-local`, or `docker stop` / a rollout stops vault-init, at
// any moment. A stop is not a kill: vault-init lets what must not be cut finish first (Vault's answer to sys/init
// until init.json is durable; an audit device switch), then exits 0. So a stop never leaves an initialized Vault
// without its keys, nor an audit device Vault does not list, and the next start always ends unsealed.
//
// Half the stops land anywhere in a whole run, half are aimed at the initialization. A fresh Vault per run;
// VAULT_INIT_SIGTERM_RUNS overrides the number of runs (default 24).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient } from '@aurora/common';
import { runVaultInitOnce, startVault, vaultInitDirs, vaultInitEnv, VaultInitProcess } from '@aurora/process';
import { leakedLines, secretsOnDisk } from '../support/leaks.js';
import { interruptionMoment } from '../support/vault-init-runs.js';

const RUNS = Number(process.env.VAULT_INIT_SIGTERM_RUNS ?? 24);
const SETTINGS = { VAULT_SECRET_SHARES: '1', VAULT_SECRET_THRESHOLD: '1' };

test(
  `SIGTERM to vault-init at random moments, ${RUNS} runs: never keys lost, the next start always ends unsealed`,
  {
    timeout: 15 * 60_000,
  },
  async () => {
    // A full uninterrupted run, to know the span to pick moments from.
    let fullRunMs: number;
    let initRequestMs: number;
    {
      const vault = await startVault();
      try {
        const t0 = Date.now();
        const run = await runVaultInitOnce(await vaultInitEnv(vault, vaultInitDirs(), SETTINGS));
        fullRunMs = Date.now() - t0;
        assert.equal(run.code, 0, run.output);
        initRequestMs = Number(/"initRequestMs":(\d+)/.exec(run.output)?.[1] ?? 50);
      } finally {
        await vault.stop();
      }
    }

    let heldInit = 0;
    let heldSwitch = 0;
    for (let i = 0; i < RUNS; i++) {
      const vault = await startVault();
      try {
        const dirs = vaultInitDirs();
        const env = await vaultInitEnv(vault, dirs, SETTINGS);
        const proc = VaultInitProcess.start(env, ['--once']);
        // Half the interruptions anywhere in a whole run; half aimed at the initialization, the moment that matters.
        const delay = await interruptionMoment(proc, i, fullRunMs, initRequestMs);
        const output = () => proc.output();
        const stopped = await proc.stop();
        const where = `run ${i} (stopped after ${delay.toFixed(0)} ms):\n${output().slice(-3000)}`;
        // Before main() installs its handler, the signal's default ends the process: nothing was sent to Vault yet.
        if (stopped.signal === 'SIGTERM') assert.doesNotMatch(output(), /initializing Vault/, where);
        else assert.equal(stopped.code, 0, where);
        if (/letting critical work finish first.*the initialization/.test(output())) heldInit += 1;
        if (/letting critical work finish first.*the audit device switch/.test(output())) heldSwitch += 1;

        const client = new VaultClient({ addr: vault.addr });
        const initFile = path.join(dirs.initDir, 'init.json');
        if ((await client.health()).initialized)
          assert.ok(fs.existsSync(initFile), `Vault initialized, init.json missing: the keys are lost. ${where}`);

        const rerun = await runVaultInitOnce(env);
        assert.equal(rerun.code, 0, `${where}\nthen the next start:\n${rerun.output.slice(-3000)}`);
        assert.equal((await client.sealStatus()).sealed, false);
        assert.doesNotMatch(rerun.output, /does not list/, `an audit device cut off by the stop. ${where}`);
        assert.deepEqual(leakedLines(output() + rerun.output, secretsOnDisk(dirs)), []);
      } finally {
        await vault.stop();
      }
    }
    console.log(
      `# vault-init SIGTERM: ${RUNS} runs (a full run takes ${fullRunMs} ms, sys/init ~${initRequestMs} ms); ` +
        `${heldInit} stops were held until init.json was durable, ${heldSwitch} until an audit device switch ended`,
    );
    // The aimed half lands in sys/init's window often enough that a run without a single hold measured nothing.
    if (RUNS >= 16) assert.ok(heldInit > 0, 'no stop landed while the initialization was in flight');
  },
);
