/**
 * A native stack of a test's own: `scripts/native.ts` (what `make native` runs) with NATIVE_DIR in a temp dir and
 * every port free, so it never meets a developer's .native/ or a parallel test's stack. Nothing is started here:
 * `run('up')` starts it, `run('clean')` wipes it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { freePort, repoRoot, tempDir, TSX_NODE_ARGS } from '@aurora/process';

export const NATIVE_TS = path.join(repoRoot(), 'scripts', 'native.ts');

export interface NativeScene {
  /** The stack's state dir (NATIVE_DIR). */
  native: string;
  ports: { vault: number; pg: number; vaultInitHealth: number; app: number };
  /** This process's environment plus the stack's NATIVE_* and APP_* settings and `extraEnv`. */
  env: NodeJS.ProcessEnv;
  /** `native.ts <cmd>` (up, down, clean, ...) to its end, at most 240 s. */
  run(cmd: string): SpawnSyncReturns<string>;
}

/** A fresh scene under a temp dir named after `label`; `extraEnv` is added to the stack's environment. */
export async function nativeScene(label: string, extraEnv: Record<string, string> = {}): Promise<NativeScene> {
  const dir = tempDir(label);
  fs.chmodSync(dir, 0o755); // the postgres user (root runs the cluster as postgres) must reach .native/postgres
  const native = path.join(dir, 'native');
  const ports = {
    vault: await freePort(),
    pg: await freePort(),
    vaultInitHealth: await freePort(),
    app: await freePort(),
  };
  const env = {
    ...process.env,
    NATIVE_DIR: native,
    NATIVE_VAULT_PORT: String(ports.vault),
    NATIVE_PG_PORT: String(ports.pg),
    NATIVE_VAULT_INIT_HEALTH_PORT: String(ports.vaultInitHealth),
    APP_PORT: String(ports.app),
    APP_METRICS_PORT: '0',
    ...extraEnv,
  };
  const run = (cmd: string) =>
    spawnSync(process.execPath, [...TSX_NODE_ARGS, NATIVE_TS, cmd], {
      cwd: repoRoot(),
      encoding: 'utf8',
      timeout: 240_000,
      env,
    });
  return { native, ports, env, run };
}
