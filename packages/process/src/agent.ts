/**
 * The REAL `vault agent` (the pinned binary from scripts/ensure-vault.sh) as a child process: a config
 * rendered by agent-config.ts, pointed at a given Vault, AppRole files and an output directory.
 * Tests use it with a short render interval; native mode (`make native`) can call `startVaultAgent` with
 * `.native/` paths (state dir `.native/agent`, output `.native/secrets`).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { readObjects, renderAgentConfig, type AgentObject } from './agent-config.js';
import { killProcess, repoRoot, spawnServer, stopProcess, tempDir, waitFor, WaitFailed } from './processes.js';
import { vaultBinary } from './vault.js';

export interface VaultAgentOptions {
  vaultAddr: string;
  /** AppRole credential files (vault-init writes them to <VAULT_APPROLE_DIR>/agent/). */
  roleIdFile: string;
  secretIdFile: string;
  /** Where the secrets are rendered; default `<dir>/secrets`. */
  outputDir?: string;
  /** Where the config and log go; default a fresh temp dir under the test run root. */
  dir?: string;
  /** Go duration; default "1s" (compose uses 30s). */
  renderInterval?: string;
  /** Default: vault/agent/secrets.json. */
  objects?: AgentObject[];
  /** Failed reads before the agent restarts its template runner (gen-agent-config's default: 1000). */
  retries?: number;
  /** VAULT_LOG_LEVEL of the agent; default "info". */
  logLevel?: string;
  /**
   * Run the committed vault/agent/agent.hcl instead of a generated config: its compose paths are pointed at
   * the given files and output dir, and the address comes from VAULT_ADDR, as in the container.
   */
  committedConfig?: boolean;
}

/** Writes `<dir>/agent.hcl` for `options` (creating dir and output dir); returns where things are. */
export function writeAgentConfig(options: VaultAgentOptions): { dir: string; outputDir: string; configPath: string } {
  const dir = options.dir ?? tempDir('vault-agent');
  fs.mkdirSync(dir, { recursive: true });
  const outputDir = options.outputDir ?? path.join(dir, 'secrets');
  fs.mkdirSync(outputDir, { recursive: true, mode: 0o700 });
  const configPath = path.join(dir, 'agent.hcl');
  fs.writeFileSync(
    configPath,
    options.committedConfig
      ? localizedComposeConfig(options, outputDir)
      : renderAgentConfig(options.objects ?? readObjects(), {
          vaultAddress: options.vaultAddr,
          roleIdFile: options.roleIdFile,
          secretIdFile: options.secretIdFile,
          outputDir,
          renderInterval: options.renderInterval ?? '1s',
          pidFile: path.join(dir, 'agent.pid'),
          ...(options.retries === undefined ? {} : { retries: options.retries }),
        }),
  );
  return { dir, outputDir, configPath };
}

/**
 * For a daemon manager such as scripts/native.ts: writes the config and returns the command line and env to
 * start the agent with (it renders into `outputDir`), without starting it.
 */
export function vaultAgentCommand(options: VaultAgentOptions): {
  command: string;
  args: string[];
  env: Record<string, string>;
  configPath: string;
  outputDir: string;
} {
  const { outputDir, configPath } = writeAgentConfig(options);
  return {
    command: vaultBinary(),
    args: ['agent', `-config=${configPath}`],
    env: {
      VAULT_ADDR: options.vaultAddr,
      VAULT_LOG_LEVEL: options.logLevel ?? 'info',
      SKIP_SETCAP: '1',
      VAULT_TOKEN: '',
    },
    configPath,
    outputDir,
  };
}

/** The committed compose config with its container paths replaced by local ones. */
export function localizedComposeConfig(options: VaultAgentOptions, outputDir: string): string {
  const text = fs.readFileSync(path.join(repoRoot(), 'vault', 'agent', 'agent.hcl'), 'utf8');
  return text
    .replaceAll('"/vault/approle/agent/role_id"', JSON.stringify(options.roleIdFile))
    .replaceAll('"/vault/approle/agent/secret_id"', JSON.stringify(options.secretIdFile))
    .replace(/"\/run\/vault-secrets\/([^"]+)"/g, (_m, name: string) => JSON.stringify(path.join(outputDir, name)))
    .replace(
      /static_secret_render_interval = "[^"]+"/,
      `static_secret_render_interval = ${JSON.stringify(options.renderInterval ?? '1s')}`,
    );
}

export class VaultAgent {
  private child?: ChildProcess;

  private constructor(
    readonly dir: string,
    readonly outputDir: string,
    readonly configPath: string,
    readonly logFile: string,
    private readonly logLevel: string,
    private readonly vaultAddr: string,
  ) {}

  /** Writes the config and starts the agent; does not wait for anything to be rendered (see waitForFile). */
  static async start(options: VaultAgentOptions): Promise<VaultAgent> {
    const { dir, outputDir, configPath } = writeAgentConfig(options);
    const agent = new VaultAgent(
      dir,
      outputDir,
      configPath,
      path.join(dir, 'agent.log'),
      options.logLevel ?? 'info',
      options.vaultAddr,
    );
    agent.startProcess();
    return agent;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  startProcess(): void {
    this.child = spawnServer(vaultBinary(), ['agent', `-config=${this.configPath}`], {
      logFile: this.logFile,
      env: {
        ...process.env,
        VAULT_ADDR: this.vaultAddr,
        VAULT_LOG_LEVEL: this.logLevel,
        SKIP_SETCAP: '1',
        VAULT_TOKEN: '',
      },
    });
  }

  file(objectName: string): string {
    return path.join(this.outputDir, objectName);
  }

  log(): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
  }

  /** Waits until `<outputDir>/<objectName>` exists, is non-empty and (optionally) satisfies `accept`. */
  async waitForFile(
    objectName: string,
    accept: (content: string) => boolean = () => true,
    timeoutMs = 30_000,
  ): Promise<string> {
    const file = this.file(objectName);
    return waitFor(
      `the agent to render ${objectName} (log: ${this.logFile})`,
      async () => {
        if (this.child && !this.running)
          throw new WaitFailed(
            `vault agent exited ${this.child.exitCode ?? this.child.signalCode}: ${this.log().slice(-2000)}`,
          );
        let content: string;
        try {
          content = fs.readFileSync(file, 'utf8');
        } catch {
          return undefined;
        }
        return content !== '' && accept(content) ? content : undefined;
      },
      timeoutMs,
      100,
    );
  }

  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child, 'SIGTERM', 5000);
  }

  async kill(): Promise<void> {
    if (this.child) await killProcess(this.child);
  }
}

/**
 * For scripts/native.ts (`make native`): the agent as a process with the `.native/` layout of
 * docs/architecture.md: AppRole files from `<root>/approle/agent/`, files rendered into `<root>/secrets/`,
 * its config, pid and log in `<root>/agent/`. The render interval is AGENT_RENDER_INTERVAL (default 30s).
 *
 *   const agent = await startVaultAgent(nativeVaultAgentOptions(root, vaultAddr));   // a child of this process
 *   await agent.waitForFile('admin-secret');
 * or, for a detached daemon (native.ts's `daemon(name, cmd, args, env)`):
 *   const a = vaultAgentCommand(nativeVaultAgentOptions(root, vaultAddr));
 *   daemon('vault-agent', a.command, a.args, a.env);   // then wait for <root>/secrets/admin-secret
 *   // app env: SECRETS_CONFIG = writeNativeSecretsConfig(root)
 */
export async function startVaultAgent(options: VaultAgentOptions): Promise<VaultAgent> {
  return VaultAgent.start(options);
}

export function nativeVaultAgentOptions(
  root: string,
  vaultAddr: string,
  renderInterval = process.env.AGENT_RENDER_INTERVAL?.trim() || '30s',
): VaultAgentOptions {
  return {
    vaultAddr,
    roleIdFile: path.join(root, 'approle', 'agent', 'role_id'),
    secretIdFile: path.join(root, 'approle', 'agent', 'secret_id'),
    outputDir: path.join(root, 'secrets'),
    dir: path.join(root, 'agent'),
    renderInterval,
  };
}

/**
 * The compose SECRETS_CONFIG (services/app/config/vault-config.json) with `/run/vault-secrets/` pointed at
 * `<root>/secrets/`, written to `<root>/vault-config.json`; returns that path (the app's SECRETS_CONFIG).
 */
export function writeNativeSecretsConfig(root: string): string {
  const source = JSON.parse(
    fs.readFileSync(path.join(repoRoot(), 'services', 'app', 'config', 'vault-config.json'), 'utf8'),
  ) as { secret: Record<string, { path: string }> };
  for (const entry of Object.values(source.secret)) {
    if (entry.path.startsWith('/run/vault-secrets/'))
      entry.path = path.join(root, 'secrets', entry.path.slice('/run/vault-secrets/'.length));
  }
  const file = path.join(root, 'vault-config.json');
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(source, null, 2)}\n`);
  return file;
}
