/**
 * The native stack (`make native`, scripts/native.ts) as a backup/restore target: state under .native/
 * (NATIVE_DIR), processes with pidfiles in .native/run/, ports NATIVE_VAULT_PORT / NATIVE_PG_PORT as
 * native.ts reads them. Starting is always `native.ts up` (it starts whatever is not running), stopping is
 * by pidfile, as `native.ts down` does it, but one process at a time so PostgreSQL can stay up.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  livePid,
  pgPassFile,
  postgresBinDir,
  stopPid,
  superuserPasswordFile,
  SUPERUSER,
  TSX_NODE_ARGS,
} from '@aurora/process';
import { BackupError } from './archive.js';
import { DirTarget } from './dir-target.js';
import { parseDoctor, type DoctorResult } from './doctor-report.js';

const STOP_ORDER = ['app', 'vault-agent', 'vault-init', 'vault'] as const;

export function nativeDir(root: string): string {
  return path.resolve(process.env.NATIVE_DIR ?? path.join(root, '.native'));
}

export function nativeVaultAddr(): string {
  return `http://127.0.0.1:${Number(process.env.NATIVE_VAULT_PORT ?? 8200)}`;
}

export function nativeTarget(root: string): DirTarget {
  const dir = nativeDir(root);
  const p = (...parts: string[]) => path.join(dir, ...parts);

  const pidOf = (name: string): number | undefined => livePid(p('run', `${name}.pid`));

  const stop = async (name: string): Promise<void> => {
    const pid = pidOf(name);
    if (pid) {
      process.stderr.write(`[native] stopping ${name} (pid ${pid})\n`);
      await stopPid(pid, name === 'postgres' ? 'SIGINT' : 'SIGTERM', 15_000);
    }
    fs.rmSync(p('run', `${name}.pid`), { force: true });
  };

  // native.ts prints vault-init's banner (which may show the root token): only its own `[native]` lines pass.
  const up = (): void => {
    const res = spawnSync(process.execPath, [...TSX_NODE_ARGS, path.join(root, 'scripts', 'native.ts'), 'up'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    const lines = `${res.stdout ?? ''}\n${res.stderr ?? ''}`
      .split('\n')
      .filter((l) => l.startsWith('[native]') && !/\bhv[sbr]\.[A-Za-z0-9_-]{8,}/.test(l));
    if (lines.length) process.stderr.write(`${lines.join('\n')}\n`);
    if (res.status !== 0)
      throw new BackupError(
        `starting the native stack (scripts/native.ts up) failed with exit ${res.status}; see ${p('logs')}`,
      );
  };

  const running = async (): Promise<string[]> =>
    ['vault', 'postgres', 'vault-init', 'vault-agent', 'app'].filter((n) => pidOf(n));

  return new DirTarget({
    name: `native (${path.relative(root, dir) || dir}/)`,
    kind: 'native',
    vaultAddr: nativeVaultAddr(),
    vaultDataDir: p('vault', 'data'),
    initFile: p('init', 'init.json'),
    operatorTokenFile: p('cli', '.vault-token'),
    pg: {
      binDir: postgresBinDir(),
      host: '127.0.0.1',
      port: Number(process.env.NATIVE_PG_PORT ?? 55432),
      user: SUPERUSER,
      database: 'aurora',
      // Only a stack made before the database engine was on still logs in with it.
      passFile: pgPassFile(p('postgres', 'data')),
      admin: {
        dataDir: p('postgres', 'data'),
        bootstrapPasswordFile: superuserPasswordFile(p('postgres', 'data')),
      },
    },
    control: {
      running,
      stopPostgres: () => stop('postgres'),
      stopVault: () => stop('vault'),
      startVault: async () => up(),
      watcherRunning: async () => pidOf('vault-init') !== undefined,
      stopForRestore: async (options) => {
        // PostgreSQL must answer for the dump to load (and Vault, kept, to lease its user); `up` starts them
        // (and the rest, which we stop again).
        if (!pidOf('postgres') || (options?.keepVault && !pidOf('vault'))) up();
        for (const name of STOP_ORDER) if (!(options?.keepVault && name === 'vault')) await stop(name);
      },
      startAfterRestore: async () => up(),
      doctor: async (): Promise<DoctorResult> => {
        const res = spawnSync(path.join(root, 'scripts', 'doctor.sh'), ['--json'], {
          cwd: root,
          encoding: 'utf8',
          env: { ...process.env, AURORA_STACK: 'native' },
        });
        if (res.status !== 0 && res.status !== 1) {
          throw new BackupError(
            `doctor could not check the stack (exit ${res.status}): ${(res.stderr ?? '').trim().slice(0, 1000)}. ` +
              "It needs the app's AppRole files in .native/approle/app, which vault-init writes when it runs natively.",
            3,
          );
        }
        return parseDoctor(res.stdout);
      },
    },
  });
}
