/**
 * The `aurora-secrets` CLI as a real child process (the bin, `packages/cli/bin/aurora-secrets.js`, running
 * the build in packages/cli/dist), against a real Vault that vault-init configured as compose does: the
 * `aurora` and `secret` KV v2 mounts, the app's least-privilege AppRole (files in <approle>/app) and the
 * operator token in the CLI's token helper file. stdout and stderr are captured apart; stdin is a pipe.
 *
 * The programs the CLI runs are script files in a temp dir under the run root, so that the test runner's
 * sweep finds any that outlive a killed CLI.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { VaultClient } from '@aurora/common';
import {
  repoRoot,
  stopProcess,
  tempDir,
  waitFor,
  WaitFailed,
  within,
  VaultServer,
  runVaultInitOnce,
  vaultInitDirs,
  vaultInitEnv,
  type VaultInitDirs,
} from '@aurora/process';

export function cliBin(): string {
  const main = path.join(repoRoot(), 'packages', 'cli', 'dist', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npx tsc --build\` first (make build)`);
  return path.join(repoRoot(), 'packages', 'cli', 'bin', 'aurora-secrets.js');
}

/** A Vault initialized and configured by vault-init --once, with what the CLI's identities need. */
export class CliVault {
  private constructor(
    readonly vault: VaultServer,
    readonly dirs: VaultInitDirs,
    /** vault-init's operator token (aurora-operator policy): writes the secrets the tests resolve. */
    readonly operator: VaultClient,
    readonly rootToken: string,
  ) {}

  static async start(): Promise<CliVault> {
    const vault = await VaultServer.start();
    try {
      const dirs = vaultInitDirs();
      const env = await vaultInitEnv(vault, dirs, { VAULT_SECRET_SHARES: '1', VAULT_SECRET_THRESHOLD: '1' });
      const res = await runVaultInitOnce(env);
      if (res.code !== 0) throw new Error(`vault-init --once exited ${res.code ?? res.signal}:\n${res.output}`);
      const token = fs.readFileSync(path.join(dirs.cliDir, '.vault-token'), 'utf8').trim();
      const init = JSON.parse(fs.readFileSync(path.join(dirs.initDir, 'init.json'), 'utf8')) as { root_token: string };
      return new CliVault(vault, dirs, new VaultClient({ addr: vault.addr, token }), init.root_token);
    } catch (err) {
      await vault.stop();
      throw err;
    }
  }

  /** The app's AppRole files (role_id, secret_id), as compose mounts them at /vault/approle/app. */
  get appApproleDir(): string {
    return path.join(this.dirs.approleDir, 'app');
  }

  /** The env that makes the CLI log in as the app (what `docker compose exec app aurora-secrets` gets). */
  appEnv(): Record<string, string> {
    return { VAULT_ADDR: this.vault.addr, VAULT_APPROLE_DIR: this.appApproleDir };
  }

  async stop(): Promise<void> {
    await this.vault.stop();
  }
}

/** The test's environment without anything that would give the CLI an identity behind the test's back. */
function baseEnv(home: string): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home };
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  return env;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** One run of the CLI: `aurora-secrets <args>` with `env` (plus PATH, an empty HOME), stdout/stderr apart. */
export class CliProcess {
  readonly child: ChildProcess;
  private out: Buffer[] = [];
  private err: Buffer[] = [];
  private readonly done: Promise<CliResult>;

  constructor(args: string[], env: Record<string, string>, options: { home?: string; cwd?: string } = {}) {
    const home = options.home ?? tempDir('cli-home');
    this.child = spawn(process.execPath, [cliBin(), ...args], {
      env: { ...baseEnv(home), ...env },
      cwd: options.cwd ?? home,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    live.add(this.child);
    this.child.stdout!.on('data', (b: Buffer) => this.out.push(b));
    this.child.stderr!.on('data', (b: Buffer) => this.err.push(b));
    this.done = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        live.delete(this.child);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }
  get stdout(): string {
    return Buffer.concat(this.out).toString('utf8');
  }
  get stderr(): string {
    return Buffer.concat(this.err).toString('utf8');
  }
  /** Both streams, for leak scans. */
  get output(): string {
    return `${this.stdout}\n${this.stderr}`;
  }

  /** Waits until `pattern` shows in stdout or stderr (by default stderr, where the CLI's own lines go). */
  async waitFor(
    pattern: RegExp,
    stream: 'stdout' | 'stderr' = 'stderr',
    timeoutMs = 30_000,
  ): Promise<RegExpMatchArray> {
    return waitFor(
      `aurora-secrets ${stream} to match ${pattern}`,
      () => {
        const m = (stream === 'stdout' ? this.stdout : this.stderr).match(pattern);
        if (m) return m;
        if (this.child.exitCode !== null || this.child.signalCode !== null)
          throw new WaitFailed(
            `the CLI exited (${this.child.exitCode ?? this.child.signalCode}) first:\n${this.output}`,
          );
        return undefined;
      },
      timeoutMs,
      50,
    );
  }

  async result(timeoutMs = 60_000): Promise<CliResult> {
    return within(
      this.done,
      timeoutMs,
      () => new Error(`the CLI did not exit within ${timeoutMs} ms:\n${this.output}`),
    );
  }

  async stop(): Promise<void> {
    await stopProcess(this.child, 'SIGTERM', 10_000);
  }
}

/** Runs the CLI to completion. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  options: { home?: string; cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const p = new CliProcess(args, env, options);
  p.child.stdin!.end(options.input ?? '');
  return p.result(options.timeoutMs);
}

/** Writes a program for the CLI to run into a temp dir under the run root; returns its path. */
export function childScript(name: string, source: string): string {
  const file = path.join(tempDir('cli-child'), name);
  fs.writeFileSync(file, source);
  return file;
}
