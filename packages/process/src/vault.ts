/**
 * A real HashiCorp Vault server for tests: the pinned version (scripts/ensure-vault.sh finds or builds it),
 * file storage in a data dir, a free loopback port, no TLS. It can be stopped, killed -9 and restarted on the
 * same data dir and port, which is what the re-unseal tests need.
 */
import fs from 'node:fs';
import { VaultClient, VaultForbiddenError, VaultRequestError } from '@aurora/common';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import {
  killProcess,
  freePort,
  repoRoot,
  run,
  spawnServer,
  stopProcess,
  tempDir,
  waitFor,
  WaitFailed,
} from './processes.js';

let binary: string | undefined;

/** Path of the Vault binary of the pinned version; builds it once (10-20 minutes on 2 cores, cold). */
export function vaultBinary(): string {
  if (!binary) binary = run(path.join(repoRoot(), 'scripts', 'ensure-vault.sh'), []).trim();
  return binary;
}

export function pinnedVaultVersion(): string {
  return fs.readFileSync(path.join(repoRoot(), 'vault', 'VERSION'), 'utf8').trim();
}

/** Prometheus metrics at /v1/sys/metrics?format=prometheus, as in every Vault config the project ships. */
export const VAULT_TELEMETRY = 'telemetry {\n  prometheus_retention_time = "60s"\n  disable_hostname = true\n}';

/**
 * The server config tests and `make native` use: file storage, loopback, no TLS (the compose one is
 * vault/config/vault.hcl).
 */
export function vaultServerConfig(dataDir: string, port: number, extraConfig = ''): string {
  return [
    `storage "file" { path = ${JSON.stringify(dataDir)} }`,
    `listener "tcp" {\n  address = "127.0.0.1:${port}"\n  tls_disable = true\n}`,
    `api_addr = "http://127.0.0.1:${port}"`,
    'disable_mlock = true',
    'ui = true',
    VAULT_TELEMETRY,
    extraConfig,
  ].join('\n');
}

export interface VaultServerOptions {
  dataDir?: string;
  port?: number;
  /** Extra HCL appended to the server config. */
  extraConfig?: string;
}

export class VaultServer {
  readonly addr: string;
  readonly configPath: string;
  readonly logFile: string;
  private child?: ChildProcess;

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    readonly dir: string,
    extraConfig: string,
  ) {
    this.addr = `http://127.0.0.1:${port}`;
    this.configPath = path.join(dir, 'vault.hcl');
    this.logFile = path.join(dir, 'vault.log');
    fs.writeFileSync(this.configPath, vaultServerConfig(dataDir, port, extraConfig));
  }

  /**
   * Starts a server; with no fixed port, retried when the free port it picked was taken before Vault bound
   * it (parallel test processes draw from the same ephemeral range).
   */
  static async start(options: VaultServerOptions = {}): Promise<VaultServer> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await VaultServer.startOnce(options);
      } catch (err) {
        if (attempt >= 3 || options.port !== undefined || !/address already in use/.test(String(err))) throw err;
      }
    }
  }

  private static async startOnce(options: VaultServerOptions): Promise<VaultServer> {
    const dir = tempDir('vault');
    const dataDir = options.dataDir ?? path.join(dir, 'data');
    fs.mkdirSync(dataDir, { recursive: true });
    const server = new VaultServer(dataDir, options.port ?? (await freePort()), dir, options.extraConfig ?? '');
    await server.startProcess();
    return server;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async startProcess(): Promise<void> {
    this.child = spawnServer(vaultBinary(), ['server', `-config=${this.configPath}`], {
      logFile: this.logFile,
      env: { ...process.env, VAULT_LOG_LEVEL: 'warn', SKIP_SETCAP: '1' },
    });
    const child = this.child;
    await waitVaultAnswers(child, this.addr, this.logFile, `Vault to answer on ${this.addr}`);
  }

  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child);
  }

  /** kill -9: no shutdown, no seal; the storage is left as a crash leaves it. */
  async kill(): Promise<void> {
    if (this.child) await killProcess(this.child);
  }

  /** Same data dir and port; comes back sealed, as a restarted Vault does. */
  async restart(): Promise<void> {
    await this.stop();
    await this.startProcess();
  }

  /** Runs the real `vault` CLI against this server. */
  cli(args: string[], env: NodeJS.ProcessEnv = {}): string {
    return run(vaultBinary(), args, { env: { ...process.env, VAULT_ADDR: this.addr, ...env } });
  }
}

/** Waits until the Vault process `child` answers sys/health at `addr`, in any state; fails with its log if it exits. */
export async function waitVaultAnswers(
  child: ChildProcess,
  addr: string,
  logFile: string,
  what: string,
): Promise<void> {
  await waitFor(
    `${what} (log: ${logFile})`,
    async () => {
      if (child.exitCode !== null)
        throw new WaitFailed(`vault exited ${child.exitCode}: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
      return (await new VaultClient({ addr, timeoutMs: 2000 }).health().catch(() => undefined)) ? true : undefined;
    },
    30_000,
    50,
  );
}

/** Initializes and unseals a server the simple way, for tests that are not about vault-init. */
export async function initAndUnseal(
  server: VaultServer,
  shares = 1,
  threshold = 1,
): Promise<{ rootToken: string; keys: string[] }> {
  const vault = new VaultClient({ addr: server.addr, timeoutMs: 10_000 });
  const init = await vault.initialize(shares, threshold);
  for (const key of init.keys_base64.slice(0, threshold)) await vault.unseal(key);
  await waitFor('Vault to become active', async () => {
    const h = await vault.health();
    return !h.sealed && !h.standby ? true : undefined;
  });
  return { rootToken: init.root_token, keys: init.keys_base64 };
}

/** auth/token/lookup-self with `token`: 200 and its policies, or Vault's refusal (403 when it does not know it). */
export async function lookupToken(addr: string, token: string): Promise<{ status: number; policies?: string[] }> {
  try {
    const info = await new VaultClient({ addr, token, timeoutMs: 10_000 }).lookupSelf();
    return { status: 200, policies: info.policies };
  } catch (err) {
    if (err instanceof VaultForbiddenError) return { status: 403 };
    if (err instanceof VaultRequestError) return { status: err.vaultStatus };
    throw err;
  }
}

/** Whether a generate-root attempt is in progress (someone's, or one left behind). */
export async function generateRootStarted(addr: string): Promise<boolean> {
  return (await new VaultClient({ addr, timeoutMs: 10_000 }).generateRoot.status()).started;
}
