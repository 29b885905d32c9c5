/**
 * Reading what `vault-init --once` did: its JSON log has one line per setup step ({"step": "unseal", ...});
 * a run's whole output is kept by the caller, whose tests scan every output for leaked secrets at the end.
 */
import assert from 'node:assert/strict';
import { runVaultInitOnce, waitFor, type VaultInitProcess } from '@aurora/process';

/** One step line of vault-init's log (the fields the tests read). */
export interface VaultInitStep {
  step: string;
  which?: string;
  result?: string;
  valid?: boolean;
  changed?: string[];
  durationMs?: number;
}

/** The step lines of a vault-init output, in the order they ran. */
export function vaultInitSteps(output: string): VaultInitStep[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { step?: string })
    .filter((e): e is VaultInitStep => e.step !== undefined);
}

/**
 * Runs `vault-init --once` with `env`, appends its output to `outputs`, asserts that it exited 0 and, when
 * `steps` is given, that exactly these steps ran, in this order. `timeoutMs` bounds the run (default 60 s).
 */
export async function runOnceOk(
  env: Record<string, string>,
  outputs: string[],
  options: { steps?: string[]; timeoutMs?: number } = {},
): Promise<{ output: string; steps: VaultInitStep[] }> {
  const run = await runVaultInitOnce(env, options.timeoutMs);
  outputs.push(run.output);
  assert.equal(run.code, 0, run.output.slice(-3000));
  const steps = vaultInitSteps(run.output);
  if (options.steps)
    assert.deepEqual(
      steps.map((s) => s.step),
      options.steps,
    );
  return { output: run.output, steps };
}

/**
 * Waits until vault-init's health endpoint (127.0.0.1:`port`/health, VAULT_INIT_HEALTH_PORT) answers `status`
 * (200 healthy, 503 not), polling every 50 ms; throws after `timeoutMs`.
 */
export async function waitVaultInitHealth(port: string | number, status: number, timeoutMs: number): Promise<void> {
  await waitFor(
    `vault-init's /health to answer ${status}`,
    async () => ((await fetch(`http://127.0.0.1:${port}/health`)).status === status ? true : undefined),
    timeoutMs,
    50,
  );
}

/**
 * The steps of a run on an initialized Vault whose root token was revoked (VAULT_REVOKE_ROOT_TOKEN=true): root
 * access from the unseal keys (generate-root), revoked again after configure. `cluster`: Raft nodes, formed first.
 */
export function generateRootRunSteps(cluster: boolean): string[] {
  return [
    'wait',
    'load-init-file',
    ...(cluster ? ['form-cluster'] : []),
    'unseal',
    'verify-root-token',
    'generate-root',
    'configure',
    'revoke-root-token',
    'banner',
  ];
}

/** What vault-init's configure step reports it created or updated ("secrets:database=created", ...). */
export function configureChanges(output: string): string[] {
  const configure = vaultInitSteps(output).find((s) => s.step === 'configure');
  assert.ok(configure, output);
  return configure.changed ?? [];
}

/**
 * Waits for the moment to interrupt run `i` of a fault test at: even runs anywhere in a whole run (up to
 * `fullRunMs`, or until it exits), odd runs aimed at the initialization, from "initializing Vault" to a little past
 * Vault's answer (`initRequestMs` + 10 ms), which covers sys/init itself and the write of init.json. Returns the
 * delay chosen, in ms.
 */
export async function interruptionMoment(
  proc: VaultInitProcess,
  i: number,
  fullRunMs: number,
  initRequestMs: number,
): Promise<number> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  if (i % 2 === 0) {
    const delay = Math.random() * fullRunMs;
    await Promise.race([sleep(delay), proc.exited()]);
    return delay;
  }
  await proc.waitForOutput(/initializing Vault/, 30_000).catch(() => undefined);
  const delay = Math.random() * (initRequestMs + 10);
  await sleep(delay);
  return delay;
}
