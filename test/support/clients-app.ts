/**
 * The stack the Clients / file-secrets / agent stories run on, all real processes:
 *  - Vault (harness VaultServer), set up by the real `vault-init --once`: KV v2 at `secret/`, the real
 *    policies, AppRole files for the app and the agent, the generated bootstrap admin secret at
 *    secret/aurora/admin#client-secret, and the operator token the CLI uses (`docker exec vault vault ...`);
 *  - PostgreSQL (harness PostgresServer);
 *  - a secrets directory and a SECRETS_CONFIG file (each test chooses its entries);
 *  - the app (`node services/app/dist/main.js`, built by `npx tsc --build`), logging to a file;
 *  - optionally the real `vault agent` rendering into the secrets directory.
 * Every response body is kept, so a story can scan responses, the app log and a pg_dump for canaries.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { APP_NODE_FLAGS, VaultClient } from '@aurora/common';
import {
  clientResource,
  freePort,
  repoRoot,
  spawnServer,
  stopProcess,
  startBoth,
  readHttpResult,
  tempDir,
  type HttpResult,
  waitFor,
  WaitFailed,
  PostgresServer,
  VaultServer,
  runVaultInitOnce,
  vaultInitDirs,
  vaultInitEnv,
  VaultAgent,
  serviceNode,
} from '@aurora/process';

export interface SecretEntry {
  path: string;
  scope: { resource_type: string; id?: string };
}

export interface ClientsStackOptions {
  /**
   * SECRETS_CONFIG content; a function gets the secrets directory. Default: client-secret (Client/basic) and
   * admin-secret (Client/admin).
   */
  secretsConfig?: (secretsDir: string) => unknown;
  /** Extra env for the app. */
  env?: Record<string, string>;
  /** Start the real vault agent rendering into the secrets dir (render interval 1s). */
  agent?: boolean | { renderInterval?: string; committedConfig?: boolean };
  /** Write the admin secret file directly (no agent); default true when no agent. */
  adminFile?: boolean;
}

export type { HttpResult };

export function defaultSecretsConfig(dir: string): unknown {
  return {
    secret: {
      'client-secret': { path: path.join(dir, 'client-secret'), scope: { resource_type: 'Client', id: 'basic' } },
      'admin-secret': { path: path.join(dir, 'admin-secret'), scope: { resource_type: 'Client', id: 'admin' } },
    },
  };
}

/** The user's Client JSON from the walkthrough: a basic-auth Client whose secret is the named file secret. */
export function userClient(id: string, secretName: string): Record<string, unknown> {
  return clientResource({ id }, secretName);
}

export class ClientsStack {
  readonly responses: HttpResult[] = [];
  appUrl = '';
  agent?: VaultAgent;
  /** Vault's file audit log (vault-init enables it): one line per request Vault served, values HMAC'd. */
  auditFile = '';
  private app?: ChildProcess;

  private constructor(
    readonly dir: string,
    readonly vault: VaultServer,
    readonly postgres: PostgresServer,
    /** The token vault-init leaves for the CLI (aurora-operator policy): what `docker exec vault vault` uses. */
    readonly operatorToken: string,
    readonly adminSecret: string,
    readonly secretsDir: string,
    readonly configFile: string,
    readonly appLog: string,
    readonly approleDir: string,
    readonly vaultInitLog: string,
  ) {}

  static async start(options: ClientsStackOptions = {}): Promise<ClientsStack> {
    const dir = tempDir('clients');
    const [vault, postgres] = await startBoth(VaultServer.start(), PostgresServer.start());
    const initDirs = vaultInitDirs();
    const init = await runVaultInitOnce(await vaultInitEnv(vault, initDirs));
    if (init.code !== 0)
      throw new Error(`vault-init --once exited ${init.code ?? init.signal}:\n${init.output.slice(-3000)}`);
    const operatorToken = fs.readFileSync(path.join(initDirs.cliDir, '.vault-token'), 'utf8').trim();
    const operator = new VaultClient({ addr: vault.addr, token: operatorToken });
    const adminSecret = (await operator.kvRead('secret', 'aurora/admin')).data['client-secret'];
    if (!adminSecret) throw new Error('vault-init did not generate secret/aurora/admin#client-secret');
    const approleDir = initDirs.approleDir;

    const secretsDir = path.join(dir, 'secrets');
    fs.mkdirSync(secretsDir, { mode: 0o700 });
    const configFile = path.join(dir, 'vault-config.json');
    fs.writeFileSync(configFile, JSON.stringify((options.secretsConfig ?? defaultSecretsConfig)(secretsDir), null, 2));
    const stack = new ClientsStack(
      dir,
      vault,
      postgres,
      operatorToken,
      adminSecret,
      secretsDir,
      configFile,
      path.join(dir, 'app.log'),
      approleDir,
      init.output,
    );

    stack.auditFile = initDirs.auditFile;
    if (options.agent) {
      stack.agent = await VaultAgent.start({
        vaultAddr: vault.addr,
        roleIdFile: path.join(approleDir, 'agent', 'role_id'),
        secretIdFile: path.join(approleDir, 'agent', 'secret_id'),
        outputDir: secretsDir,
        renderInterval: typeof options.agent === 'object' ? (options.agent.renderInterval ?? '1s') : '1s',
        committedConfig: typeof options.agent === 'object' && options.agent.committedConfig === true,
      });
      await stack.agent.waitForFile('admin-secret', (c) => c === adminSecret);
    } else if (options.adminFile ?? true) {
      fs.writeFileSync(path.join(secretsDir, 'admin-secret'), adminSecret, { mode: 0o400 });
    }
    await stack.startApp(options.env ?? {});
    return stack;
  }

  appEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      VAULT_ADDR: this.vault.addr,
      VAULT_APPROLE_DIR: path.join(this.approleDir, 'app'),
      SECRETS_CONFIG: this.configFile,
      LOG_LEVEL: 'debug',
      AUTH_MAX_FAILURES: '1000',
      ...this.postgres.env,
      ...extra,
    };
  }

  /** Starts the app process and waits for /healthz. */
  async startApp(extra: Record<string, string> = {}): Promise<void> {
    const port = await freePort();
    this.appUrl = `http://127.0.0.1:${port}`;
    // cwd = the temp dir: dotenv must not pick up a developer's .env.
    const main = path.join(repoRoot(), 'services', 'app', 'dist', 'main.js');
    this.app = spawnServer(serviceNode(), [...APP_NODE_FLAGS, main], {
      logFile: this.appLog,
      cwd: this.dir,
      env: { ...this.appEnv(extra), PORT: String(port), METRICS_PORT: String(await freePort()) },
    });
    const child = this.app;
    await waitFor(
      `the app on ${this.appUrl} (log: ${this.appLog})`,
      async () => {
        if (child.exitCode !== null) throw new WaitFailed(`app exited ${child.exitCode}: ${this.log().slice(-3000)}`);
        const res = await fetch(`${this.appUrl}/healthz`).catch(() => undefined);
        return res?.ok ? true : undefined;
      },
      30_000,
      100,
    );
  }

  get appPid(): number | undefined {
    return this.app?.pid;
  }

  async stopApp(): Promise<void> {
    if (this.app) await stopProcess(this.app);
  }

  log(): string {
    return fs.existsSync(this.appLog) ? fs.readFileSync(this.appLog, 'utf8') : '';
  }

  /** One HTTP request to the app; the response is kept for the canary scan. */
  async request(
    method: string,
    urlPath: string,
    options: { auth?: [string, string]; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<HttpResult> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.auth)
      headers.authorization = `Basic ${Buffer.from(`${options.auth[0]}:${options.auth[1]}`).toString('base64')}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.appUrl}${urlPath}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const result = await readHttpResult(res);
    this.responses.push(result);
    return result;
  }

  /** Stores the user Client `id` (secret in the file secret `secretName`) as the admin; the HTTP status. */
  async putUserClient(id: string, secretName: string): Promise<number> {
    return (await this.request('PUT', `/fhir/Client/${id}`, { auth: this.admin(), body: userClient(id, secretName) }))
      .status;
  }

  admin(): [string, string] {
    return ['admin', this.adminSecret];
  }

  /** The real `vault` CLI with the operator token, as `docker exec vault vault ...` runs in compose. */
  cli(args: string[]): string {
    return this.vault.cli(args, { VAULT_TOKEN: this.operatorToken });
  }

  /** A Vault client with the operator token. */
  operator(): VaultClient {
    return new VaultClient({ addr: this.vault.addr, token: this.operatorToken });
  }

  /** Writes a secret file the way a test chooses (the agent's own writes are atomic renames). */
  secretFile(name: string): string {
    return path.join(this.secretsDir, name);
  }

  /** Every place a secret value must never reach: responses, the app log, the database. */
  leaks(values: string[]): string[] {
    const haystacks: Array<[string, string]> = [
      [
        'HTTP responses',
        this.responses.map((r) => `${[...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${r.text}`).join('\n'),
      ],
      ['app log', this.log()],
      ['vault-init log', this.vaultInitLog],
      ['vault agent log', this.agent?.log() ?? ''],
      ['pg_dump', this.postgres.pgDump()],
    ];
    const found: string[] = [];
    for (const value of values) {
      for (const [where, text] of haystacks) if (text.includes(value)) found.push(`${value.slice(0, 4)}… in ${where}`);
    }
    return found;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.stopApp(), this.agent?.stop()]);
    await Promise.allSettled([this.vault.stop(), this.postgres.stop()]);
  }
}
