/**
 * A real HashiCorp Vault server for tests: the pinned version (scripts/ensure-vault.sh finds or builds it),
 * file storage in a data dir, a free loopback port, no TLS. It can be stopped, killed -9 and restarted on the
 * same data dir and port, which is what the re-unseal tests need.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { exited, freePort, repoRoot, run, spawnServer, stopProcess, tempDir, waitFor } from './processes.js';

let binary: string | undefined;

/** Path of the Vault binary of the pinned version; builds it once (about 8 minutes cold). */
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
    await waitFor(
      `Vault to answer on ${this.addr} (log: ${this.logFile})`,
      async () => {
        if (child.exitCode !== null)
          throw new Error(`vault exited ${child.exitCode}: ${fs.readFileSync(this.logFile, 'utf8').slice(-2000)}`);
        const res = await fetch(`${this.addr}/v1/sys/health?uninitcode=200&sealedcode=200`);
        return res.ok ? true : undefined;
      },
      30_000,
      50,
    );
  }

  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child);
  }

  /** kill -9: no shutdown, no seal; the storage is left as a crash leaves it. */
  async kill(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await exited(this.child);
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

/** Initializes and unseals a server the simple way, for tests that are not about vault-init. */
export async function initAndUnseal(
  server: VaultServer,
  shares = 1,
  threshold = 1,
): Promise<{ rootToken: string; keys: string[] }> {
  const init = (await (
    await fetch(`${server.addr}/v1/sys/init`, {
      method: 'POST',
      body: JSON.stringify({ secret_shares: shares, secret_threshold: threshold }),
    })
  ).json()) as { keys_base64: string[]; root_token: string };
  for (const key of init.keys_base64.slice(0, threshold)) {
    await fetch(`${server.addr}/v1/sys/unseal`, { method: 'POST', body: JSON.stringify({ key }) });
  }
  await waitFor('Vault to become active', async () => {
    const h = (await (await fetch(`${server.addr}/v1/sys/health`)).json()) as { sealed: boolean; standby: boolean };
    return !h.sealed && !h.standby ? true : undefined;
  });
  return { rootToken: init.root_token, keys: init.keys_base64 };
}
