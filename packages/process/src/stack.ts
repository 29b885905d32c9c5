/**
 * The stack the credentials stories run on, all real processes, wired as compose wires them:
 *   Vault (harness VaultServer) → vault-init --once (initializes, unseals, configures: mounts, the real
 *   least-privilege aurora-app policy, AppRole files) → PostgreSQL → the app, logging in with the AppRole
 *   files vault-init wrote (never a root token).
 * API Clients: each gets a secret file and a SECRETS_CONFIG entry scoped to it, and a Client resource row with
 * its `permissions`, as the Clients module reads them. Every response is kept for the canary scan; resolve
 * answers are kept apart (they carry values by design).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient } from '@aurora/common';
import { readIfPresent, startBoth, stopIfSetUpFails, tempDir } from './processes.js';
import { databaseEngineInitEnv, leasedAppEnv } from './database-engine.js';
import { PostgresServer } from './postgres.js';
import { VaultServer } from './vault.js';
import { runVaultInitOnce, vaultInitDirs, vaultInitEnv, type VaultInitDirs } from './vault-init.js';
import { AppProcess } from './app.js';

export interface ClientSpec {
  id: string;
  /** The resource's `permissions` (see services/app/src/auth/client-identity.ts). */
  permissions?: { admin?: boolean; credentials?: string[]; users?: string[] };
}

export interface StackOptions {
  clients?: ClientSpec[];
  /** Extra env for the app (e.g. CACHE_TTL_SECONDS). */
  env?: Record<string, string>;
  /** Extra env for vault-init (e.g. VAULT_APPROLE_TOKEN_TTL, VAULT_AUDIT_FILE). */
  initEnv?: Record<string, string>;
  /**
   * Production's database wiring: vault-init hands the cluster's superuser password to Vault's database secrets
   * engine (which rotates it), and the app connects as users leased from `aurora-app` (migrations as
   * `aurora-maintenance`). The stack's own SQL (Client rows) then runs as a leased maintenance user. Without it
   * the app connects as the cluster's superuser, which the stories about other things start faster with.
   */
  leasedDatabaseUsers?: boolean;
  /** The Node binary the app runs on (default: this process's): the bench runs it on the production images' Node. */
  appNode?: string;
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** An HTTP answer read whole: its body as text, and as JSON when it is JSON (else undefined). */
export async function readHttpResult(res: Response): Promise<HttpResult> {
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export interface RequestOptions {
  auth?: string | [string, string];
  body?: unknown;
  /** Sent as is (not JSON-encoded). */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

/** The user's Client JSON shape: the secret is a reference by name, `_secret` masked. */
export function clientResource(spec: ClientSpec, secretName: string): Record<string, unknown> {
  return {
    resourceType: 'Client',
    id: spec.id,
    grant_types: ['basic'],
    _secret: {
      extension: [
        { url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'masked' },
        { url: 'http://health-samurai.io/fhir/secret-reference', valueString: secretName },
      ],
    },
    ...(spec.permissions ? { permissions: spec.permissions } : {}),
  };
}

export const DEFAULT_CLIENTS: ClientSpec[] = [
  { id: 'admin', permissions: { admin: true } },
  { id: 'writer', permissions: { credentials: ['read', 'write', 'delete', 'resolve'], users: ['*'] } },
];

/** The statement that inserts (or replaces) the Client row of `spec`. */
function clientRowSql(spec: ClientSpec): string {
  const json = JSON.stringify(clientResource(spec, `client-${spec.id}`)).replace(/'/g, "''");
  const id = spec.id.replace(/'/g, "''");
  return `INSERT INTO resources (resource_type, id, resource) VALUES ('Client', '${id}', '${json}'::jsonb)
     ON CONFLICT (resource_type, id) DO UPDATE SET resource = EXCLUDED.resource, updated_at = now()`;
}

/** Inserts (or replaces) the Client row of `spec` as the superuser (the Clients module reads it on each login). */
export async function putClientRow(postgres: PostgresServer, spec: ClientSpec): Promise<void> {
  await postgres.psql(postgres.database, clientRowSql(spec));
}

/** Every secret path below `<mount>/<base>/` (recursive) with its current version, read with `client`. */
export async function kvVersions(
  client: VaultClient,
  mount = 'aurora',
  base = 'users',
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const walk = async (prefix: string): Promise<void> => {
    for (const key of await client.kvList(mount, prefix)) {
      if (key.endsWith('/')) await walk(`${prefix}/${key.slice(0, -1)}`);
      else out[`${prefix}/${key}`] = (await client.kvMetadata(mount, `${prefix}/${key}`)).current_version;
    }
  };
  await walk(base);
  return out;
}

const CREDENTIAL_ROWS =
  "SELECT user_id || '|' || credential_type || '|' || reference || '|' || version || '|' || updated_at FROM credential_references ORDER BY 1";

/** The credential_references table as text rows (`user|type|reference|version|updated_at`), ordered. */
export async function credentialRows(postgres: PostgresServer): Promise<string[]> {
  return (await postgres.psql(postgres.database, CREDENTIAL_ROWS)).split('\n').filter(Boolean);
}

export class CredentialsStack {
  /** Responses that must not carry any secret value. */
  readonly responses: HttpResult[] = [];
  /** Resolve answers: they carry values by design and are left out of the leak scan. */
  readonly resolveResponses: HttpResult[] = [];
  readonly clientSecrets = new Map<string, string>();
  app!: AppProcess;
  initEnv!: Record<string, string>;
  operatorToken = '';
  /** A client with the operator token vault-init wrote (the CLI's identity in compose). */
  operator!: VaultClient;
  readonly vaultInitLogs: string[] = [];
  /** Every metrics scrape taken (the app's /metrics, Vault's sys/metrics): part of the leak scan. */
  readonly metricsScrapes: string[] = [];

  private constructor(
    readonly dir: string,
    readonly vault: VaultServer,
    readonly postgres: PostgresServer,
    readonly initDirs: VaultInitDirs,
    readonly secretsDir: string,
    readonly configFile: string,
    readonly leasedDatabaseUsers: boolean,
  ) {}

  static async start(options: StackOptions = {}): Promise<CredentialsStack> {
    const dir = tempDir('credentials-stack');
    const [vault, postgres] = await startBoth(VaultServer.start(), PostgresServer.start());
    const secretsDir = path.join(dir, 'secrets');
    fs.mkdirSync(secretsDir, { mode: 0o700 });
    const stack = new CredentialsStack(
      dir,
      vault,
      postgres,
      vaultInitDirs(),
      secretsDir,
      path.join(dir, 'vault-config.json'),
      options.leasedDatabaseUsers === true,
    );
    return stopIfSetUpFails(stack, (s) => s.setUp(options));
  }

  private async setUp(options: StackOptions): Promise<void> {
    const { vault, postgres, secretsDir, dir } = this;
    const databaseEngine = this.leasedDatabaseUsers ? databaseEngineInitEnv(postgres) : {};
    this.initEnv = await vaultInitEnv(vault, this.initDirs, { ...databaseEngine, ...options.initEnv });
    await this.runVaultInit();
    this.operatorToken = fs.readFileSync(path.join(this.initDirs.cliDir, '.vault-token'), 'utf8').trim();
    this.operator = new VaultClient({ addr: vault.addr, token: this.operatorToken });

    const clients = options.clients ?? DEFAULT_CLIENTS;
    const config: { secret: Record<string, unknown> } = { secret: {} };
    for (const c of clients) {
      const secret = `cs-${c.id}-${crypto.randomBytes(18).toString('base64url')}`;
      const file = path.join(secretsDir, `client-${c.id}`);
      fs.writeFileSync(file, secret, { mode: 0o400 });
      config.secret[`client-${c.id}`] = { path: file, scope: { resource_type: 'Client', id: c.id } };
      this.clientSecrets.set(c.id, secret);
    }
    fs.writeFileSync(this.configFile, JSON.stringify(config, null, 2));

    this.app = await AppProcess.start(
      {
        VAULT_ADDR: vault.addr,
        VAULT_APPROLE_DIR: path.join(this.initDirs.approleDir, 'app'),
        SECRETS_CONFIG: this.configFile,
        LOG_LEVEL: 'debug',
        AUTH_MAX_FAILURES: '10000',
        ...(this.leasedDatabaseUsers ? leasedAppEnv(postgres) : postgres.env),
        ...options.env,
      },
      path.join(dir, 'app'),
      { node: options.appNode },
    );
    // The app's migrations created the tables; the Clients module reads Client rows on each login.
    for (const c of clients) await this.putClientRow(c);
    await this.app.waitReady();
  }

  /** vault-init --once: initializes (first time) or unseals (after a restart) and reconciles the config. */
  async runVaultInit(): Promise<void> {
    const res = await runVaultInitOnce(this.initEnv);
    this.vaultInitLogs.push(res.output);
    if (res.code !== 0)
      throw new Error(`vault-init --once exited ${res.code ?? res.signal}:\n${res.output.slice(-3000)}`);
  }

  async putClientRow(spec: ClientSpec): Promise<void> {
    await this.sql(clientRowSql(spec));
  }

  /**
   * Runs SQL in the stack's database as the superuser, or, with leased database users (the superuser's password
   * is Vault's alone then), as a maintenance user leased with the operator token for this one statement.
   */
  async sql(statement: string): Promise<string> {
    if (!this.leasedDatabaseUsers) return this.postgres.psql(this.postgres.database, statement);
    const creds = await this.operator.database().credentials('aurora-maintenance');
    try {
      return await this.postgres.psqlAs(creds, statement);
    } finally {
      await this.operator.revokeLease(creds.leaseId).catch(() => undefined);
    }
  }

  auth(clientId: string): [string, string] {
    const secret = this.clientSecrets.get(clientId);
    if (!secret) throw new Error(`no client ${clientId} in this stack`);
    return [clientId, secret];
  }

  /** One HTTP request to the app; its response is kept for the leak scan. */
  async request(method: string, urlPath: string, options: RequestOptions = {}): Promise<HttpResult> {
    const headers: Record<string, string> = { ...options.headers };
    const auth = typeof options.auth === 'string' ? this.auth(options.auth) : options.auth;
    if (auth) headers.authorization = `Basic ${Buffer.from(`${auth[0]}:${auth[1]}`).toString('base64')}`;
    let body: string | Buffer | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${this.app.url}${urlPath}`, {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(20_000),
    });
    const result = await readHttpResult(res);
    (method === 'POST' && /\/resolve$/.test(urlPath) && res.status === 200
      ? this.resolveResponses
      : this.responses
    ).push(result);
    return result;
  }

  /** The real `vault` CLI with the operator token, as `docker exec vault vault ...` runs it in compose. */
  cli(args: string[]): string {
    return this.vault.cli(args, { VAULT_TOKEN: this.operatorToken });
  }

  /** Every secret path under aurora/users/ (recursive), with its current version: a snapshot for "no change". */
  vaultSnapshot(mount = 'aurora', base = 'users'): Promise<Record<string, number>> {
    return kvVersions(this.operator, mount, base);
  }

  /** The credential_references table, as text rows: a snapshot for "no change". */
  async rows(): Promise<string[]> {
    return (await this.sql(CREDENTIAL_ROWS)).split('\n').filter(Boolean);
  }

  /**
   * Scrapes the app's /metrics and Vault's /v1/sys/metrics?format=prometheus (with the aurora-metrics token
   * vault-init wrote), as Prometheus would; each answer is kept for the leak scan and returned.
   */
  async scrapeMetrics(): Promise<{ app: string; vault: string }> {
    const token = fs.readFileSync(path.join(this.initDirs.cliDir, 'metrics-token'), 'utf8').trim();
    const get = async (url: string, headers: Record<string, string> = {}) => {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text.slice(0, 300)}`);
      this.metricsScrapes.push(text);
      return text;
    };
    const vault = await new VaultClient({ addr: this.vault.addr, token }).metricsPrometheus();
    this.metricsScrapes.push(vault);
    return { app: await get(this.app.metricsUrl), vault };
  }

  /**
   * Places a secret value must never reach: responses (except resolve answers), the app log, doctor's output, pg_dump,
   * metrics scrapes.
   */
  leaks(values: string[]): string[] {
    const haystacks: Array<[string, string]> = [
      [
        'HTTP responses',
        this.responses.map((r) => `${[...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${r.text}`).join('\n'),
      ],
      ['app log', this.app.log()],
      ['doctor output', readIfPresent(path.join(this.app.dir, 'doctor.log'))],
      ['vault-init log', this.vaultInitLogs.join('\n')],
      ['pg_dump', this.postgres.pgDump()],
      ['metrics scrapes', this.metricsScrapes.join('\n')],
    ];
    const found: string[] = [];
    for (const value of values) {
      for (const [where, text] of haystacks) if (text.includes(value)) found.push(`${value.slice(0, 6)}… in ${where}`);
    }
    return found;
  }

  async stop(): Promise<void> {
    await this.app?.stop().catch(() => undefined);
    await Promise.allSettled([this.vault.stop(), this.postgres.stop()]);
  }
}
