/**
 * vault-init as a real child process (`node services/vault-init/dist/main.js`, built by `tsc --build`),
 * pointed at a harness Vault and temp dirs laid out as in compose. Its stdout and stderr go to one log
 * file, as `docker logs vault-init 2>&1` shows them, so tests can grep and scan exactly that.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import {
  exited,
  freePort,
  readIfPresent,
  repoRoot,
  spawnServer,
  tempDir,
  waitFor,
  WaitFailed,
  within,
  serviceNode,
} from './processes.js';
import { VaultServer, type VaultServerOptions } from './vault.js';

export function vaultInitMain(): string {
  const main = path.join(repoRoot(), 'services', 'vault-init', 'dist', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npx tsc --build\` first (make build)`);
  return main;
}

export function vaultInitHealthcheck(): string {
  return path.join(repoRoot(), 'services', 'vault-init', 'dist', 'healthcheck.js');
}

/** Kept for the tests that import it: VaultServer.start itself retries a port taken under it. */
export async function startVault(options: VaultServerOptions = {}): Promise<VaultServer> {
  return VaultServer.start(options);
}

/** The directories compose mounts into vault-init, as temp dirs. */
export interface VaultInitDirs {
  root: string;
  initDir: string;
  approleDir: string;
  cliDir: string;
  auditFile: string;
}

/**
 * The directories compose gives vault-init as volumes (init material, AppRole files, the CLI's token, the
 * audit log), made (mode 0700) under `root`: a fresh temp dir unless given (`make native` gives .native/).
 */
export function vaultInitDirs(root = tempDir('vault-init')): VaultInitDirs {
  const dirs = {
    root,
    initDir: path.join(root, 'init'),
    approleDir: path.join(root, 'approle'),
    cliDir: path.join(root, 'cli'),
    auditFile: path.join(root, 'logs', 'audit.log'),
  };
  for (const d of [
    dirs.initDir,
    path.join(dirs.approleDir, 'app'),
    path.join(dirs.approleDir, 'agent'),
    dirs.cliDir,
    path.dirname(dirs.auditFile),
  ]) {
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  }
  return dirs;
}

/** The env compose gives vault-init, pointed at `vault` and `dirs`; `overrides` win. */
export async function vaultInitEnv(
  vault: Pick<VaultServer, 'addr'>,
  dirs: VaultInitDirs,
  overrides: Record<string, string> = {},
): Promise<Record<string, string>> {
  return {
    VAULT_ADDR: vault.addr,
    VAULT_INIT_DIR: dirs.initDir,
    VAULT_APPROLE_DIR: dirs.approleDir,
    VAULT_OPERATOR_TOKEN_DIR: dirs.cliDir,
    VAULT_AUDIT_FILE: dirs.auditFile,
    VAULT_POLICY_DIR: path.join(repoRoot(), 'vault', 'policies'),
    VAULT_AGENT_OBJECTS: path.join(repoRoot(), 'vault', 'agent', 'secrets.json'),
    VAULT_INIT_HEALTH_PORT: String(await freePort()),
    VAULT_UI_URL: `${vault.addr}/ui`,
    VAULT_WAIT_TIMEOUT_MS: '20000',
    ...overrides,
  };
}

/** process.env without anything that would configure vault-init behind the test's back. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^VAULT_|^LOG_LEVEL$|^NODE_OPTIONS$/.test(k)) env[k] = v;
  }
  return env;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class VaultInitProcess {
  readonly logFile: string;
  readonly child: ChildProcess;
  private readonly done: Promise<Exit>;

  private constructor(
    readonly env: Record<string, string>,
    args: string[],
    dir: string,
  ) {
    this.logFile = path.join(dir, `vault-init-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.log`);
    this.child = spawnServer(serviceNode(), [vaultInitMain(), ...args], {
      logFile: this.logFile,
      env: { ...baseEnv(), ...env },
    });
    this.done = exited(this.child).then(() => ({ code: this.child.exitCode, signal: this.child.signalCode }));
  }

  static start(env: Record<string, string>, args: string[] = [], dir = tempDir('vault-init-log')): VaultInitProcess {
    return new VaultInitProcess(env, args, dir);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Everything it wrote so far, stdout and stderr interleaved. */
  output(): string {
    return readIfPresent(this.logFile);
  }

  exited(): Promise<Exit> {
    return this.done;
  }

  async waitForOutput(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    return waitFor(
      `vault-init output matching ${pattern} (log: ${this.logFile})`,
      async () => {
        const out = this.output();
        const m = out.match(pattern);
        if (m) return m[0];
        if (this.child.exitCode !== null || this.child.signalCode !== null)
          throw new WaitFailed(
            `vault-init exited (${this.child.exitCode ?? this.child.signalCode}) before printing ${pattern}:\n${out.slice(-3000)}`,
          );
        return undefined;
      },
      timeoutMs,
      20,
    );
  }

  async waitExit(timeoutMs = 60_000): Promise<Exit> {
    return within(
      this.done,
      timeoutMs,
      () => new Error(`vault-init did not exit within ${timeoutMs} ms:\n${this.output().slice(-3000)}`),
    );
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.done;
  }

  /** SIGTERM, as `docker stop` sends. */
  async stop(): Promise<Exit> {
    return this.kill('SIGTERM');
  }
}

/** Runs `vault-init --once` to completion. */
export async function runVaultInitOnce(
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<Exit & { output: string }> {
  const proc = VaultInitProcess.start(env, ['--once']);
  const exit = await proc.waitExit(timeoutMs);
  return { ...exit, output: proc.output() };
}
