/**
 * The one wrapper around node-vault. Nobody else imports node-vault: its quirks stay here.
 *
 * - Only the generic read/write/list/delete calls are used: node-vault's per-command schemas drop fields
 *   they do not know, and its login helpers replace `client.token` as a side effect.
 * - Every path is checked against a safe character set before it reaches node-vault, which puts paths
 *   into URLs without encoding them.
 * - Errors become our types (sealed, unreachable, forbidden, not found, conflict) in one place
 *   (vault/error-map.ts), so the HTTP layer maps each to one status in one place.
 * - One keep-alive agent per client: no per-request connection setup. Binary bodies (Raft snapshots), which
 *   node-vault cannot stream, go over node:http with the same agent (vault/binary.ts).
 * - Endpoint families beyond the everyday calls are views over this one client: `vault.generateRoot`
 *   (vault/generate-root.ts), `vault.raft` (vault/raft.ts) and `vault.database(mount)` (vault/database.ts).
 */
import http from 'node:http';
import https from 'node:https';
import nodeVault from 'node-vault';
import { VaultNotFoundError } from './errors.js';
import type { BinaryEndpoint } from './vault/binary.js';
import { DatabaseApi } from './vault/database.js';
import { firstVaultMessage, vaultError } from './vault/error-map.js';
import { GenerateRootApi } from './vault/generate-root.js';
import { jsonTransport } from './vault/json-transport.js';
import { RaftApi } from './vault/raft.js';
import { VAULT_REQUEST_TIMEOUT_MS, VAULT_WORK_TIMEOUT_MS } from './vault/timeouts.js';
import { instrumentVaultRequests } from './vault-call-observer.js';

export interface VaultClientOptions {
  addr: string;
  token?: string;
  /** Per-request timeout; a stalled Vault must become a 503, not a hung request. */
  timeoutMs?: number;
  /** Keep-alive sockets to Vault (default 64). */
  maxSockets?: number;
}

export interface HealthStatus {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version: string;
}

/** sys/seal-status. */
export interface SealStatus {
  initialized: boolean;
  sealed: boolean;
  t: number;
  n: number;
  progress: number;
  version: string;
  /** The storage backend: `raft` or `file` here. */
  storage_type?: string;
}

export interface InitResponse {
  keys: string[];
  keys_base64: string[];
  root_token: string;
}

export interface KvMetadata {
  version: number;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

export interface KvSecret extends KvMetadata {
  data: Record<string, string>;
}

export interface KvVersionInfo {
  current_version: number;
  created_time: string;
  updated_time: string;
  versions: Record<string, { created_time: string; deletion_time: string; destroyed: boolean }>;
}

export interface MountInfo {
  type: string;
  options?: Record<string, string> | null;
  description?: string;
}

export interface LoginResult {
  token: string;
  leaseDuration: number;
  renewable: boolean;
  policies: string[];
}

/** sys/leases/renew: the lease's new duration, in seconds, from now. */
export interface LeaseRenewal {
  leaseId: string;
  leaseDuration: number;
  renewable: boolean;
}

export interface TokenInfo {
  ttl: number;
  renewable: boolean;
  policies: string[];
  display_name: string;
  expire_time: string | null;
}

const SAFE_PATH = /^[A-Za-z0-9._@\-/]+(?:\?[A-Za-z0-9._=&-]*)?$/;

interface ApiError {
  response?: { statusCode?: number; body?: { errors?: unknown[] } };
}

export class VaultClient {
  readonly addr: string;
  /** sys/generate-root: a fresh root token from the unseal keys. */
  readonly generateRoot: GenerateRootApi;
  /** sys/storage/raft: snapshots, peers, autopilot, join. */
  readonly raft: RaftApi;
  private readonly raw: nodeVault.client;
  private readonly agent: http.Agent;
  /** The timeout of calls that wait on Vault's own work: never shorter than this client's own. */
  private readonly workTimeoutMs: number;

  constructor(options: VaultClientOptions) {
    this.addr = options.addr.replace(/\/+$/, '');
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
    this.agent = this.addr.startsWith('https:') ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.workTimeoutMs = Math.max(options.timeoutMs ?? VAULT_REQUEST_TIMEOUT_MS, VAULT_WORK_TIMEOUT_MS);
    // node-vault builds the request and judges the answer; the HTTP exchange itself is one http.request on the
    // keep-alive agent (vault/json-transport.ts says why not axios).
    this.raw = instrumentVaultRequests(
      nodeVault({
        endpoint: this.addr,
        token: options.token,
        'request-promise': jsonTransport(this.agent, options.timeoutMs ?? VAULT_REQUEST_TIMEOUT_MS),
      }),
    );
    // node-vault falls back to VAULT_TOKEN from the environment; we decide about tokens explicitly.
    this.raw.token = options.token ?? '';
    this.generateRoot = new GenerateRootApi(this);
    this.raft = new RaftApi(this);
  }

  /** The database secrets engine mounted at `mount` (vault/database.ts). */
  database(mount = 'database'): DatabaseApi {
    return new DatabaseApi(this, mount);
  }

  /** What the binary transfers (vault/binary.ts) need: address, token, this client's keep-alive agent. */
  binaryEndpoint(): BinaryEndpoint {
    return { addr: this.addr, token: this.raw.token, agent: this.agent };
  }

  get token(): string {
    return this.raw.token;
  }
  set token(value: string) {
    this.raw.token = value;
  }

  /** The timeout (ms) of calls that wait on Vault's own work: VAULT_WORK_TIMEOUT_MS, or this client's if longer. */
  workTimeout(): number {
    return this.workTimeoutMs;
  }

  /** A client for the same Vault with another token (shares nothing mutable with this one). */
  withToken(token: string, timeoutMs?: number): VaultClient {
    return new VaultClient({ addr: this.addr, token, timeoutMs });
  }

  // ---- generic calls, with error mapping -------------------------------------------------------------

  /** GET `path`; `options.timeoutMs` as for `write`. */
  async read<T = unknown>(path: string, options: { timeoutMs?: number } = {}): Promise<T> {
    const requestOptions = options.timeoutMs === undefined ? undefined : { timeout: options.timeoutMs };
    return this.call(path, () => this.raw.read(checkPath(path), requestOptions));
  }

  /**
   * PUT `data` at `path`. `options.timeoutMs` replaces the client's per-request timeout for this call: for the
   * calls that wait on Vault's own work (`workTimeout()`).
   */
  async write<T = unknown>(path: string, data: unknown, options: { timeoutMs?: number } = {}): Promise<T> {
    const requestOptions = options.timeoutMs === undefined ? undefined : { timeout: options.timeoutMs };
    return this.call(path, () => this.raw.write(checkPath(path), data, requestOptions));
  }

  async list(path: string): Promise<string[]> {
    try {
      const res = await this.call<{ data?: { keys?: string[] } }>(path, () => this.raw.list(checkPath(path)));
      return res?.data?.keys ?? [];
    } catch (err) {
      if (err instanceof VaultNotFoundError) return [];
      throw err;
    }
  }

  async delete(path: string): Promise<void> {
    await this.call(path, () => this.raw.delete(checkPath(path)));
  }

  private async call<T>(path: string, fn: () => Promise<unknown>): Promise<T> {
    try {
      return (await fn()) as T;
    } catch (err) {
      throw this.translate(path, err);
    }
  }

  private translate(path: string, err: unknown): Error {
    // node-vault puts Vault's answer in err.response; network errors arrive as raw axios / Node errors.
    const response = (err as ApiError)?.response;
    const status = typeof response?.statusCode === 'number' ? response.statusCode : undefined;
    return vaultError(this.addr, path, status, firstVaultMessage(response?.body), err);
  }

  // ---- sys --------------------------------------------------------------------------------------------

  /** Liveness and state; answers 200 whatever the state, so sealed and uninitialized are data, not errors. */
  async health(): Promise<HealthStatus> {
    const body = await this.read<HealthStatus>(
      'sys/health?uninitcode=200&sealedcode=200&standbycode=200&perfstandbycode=200',
    );
    return { initialized: body.initialized, sealed: body.sealed, standby: body.standby, version: body.version };
  }

  /**
   * Vault's telemetry in Prometheus text format (`sys/metrics?format=prometheus`); needs `telemetry` with
   * `prometheus_retention_time` in the server config and a token allowed to read `sys/metrics`.
   */
  async metricsPrometheus(): Promise<string> {
    const body = await this.read<unknown>('sys/metrics?format=prometheus');
    return typeof body === 'string' ? body : JSON.stringify(body);
  }

  async sealStatus(): Promise<SealStatus> {
    return this.read<SealStatus>('sys/seal-status');
  }

  async initialize(secretShares: number, secretThreshold: number): Promise<InitResponse> {
    return this.write<InitResponse>(
      'sys/init',
      { secret_shares: secretShares, secret_threshold: secretThreshold },
      { timeoutMs: this.workTimeoutMs },
    );
  }

  /** Submits one unseal key; the key that completes the threshold answers only once Vault has unsealed. */
  async unseal(key: string): Promise<SealStatus> {
    return this.write<SealStatus>('sys/unseal', { key }, { timeoutMs: this.workTimeoutMs });
  }

  /** Discards unseal progress someone else left behind. */
  async unsealReset(): Promise<SealStatus> {
    return this.write<SealStatus>('sys/unseal', { reset: true }, { timeoutMs: this.workTimeoutMs });
  }

  async mounts(): Promise<Record<string, MountInfo>> {
    const res = await this.read<{ data?: Record<string, MountInfo> } & Record<string, unknown>>('sys/mounts');
    return (res.data ?? res) as Record<string, MountInfo>;
  }

  async enableSecretsEngine(
    path: string,
    type: string,
    options: Record<string, string> = {},
    description = '',
  ): Promise<void> {
    await this.write(`sys/mounts/${path}`, { type, options, description });
  }

  async readPolicy(name: string): Promise<string | null> {
    try {
      const res = await this.read<{ data?: { policy?: string }; policy?: string }>(`sys/policies/acl/${name}`);
      return res.data?.policy ?? res.policy ?? null;
    } catch (err) {
      if (err instanceof VaultNotFoundError) return null;
      throw err;
    }
  }

  async writePolicy(name: string, policy: string): Promise<void> {
    await this.write(`sys/policies/acl/${name}`, { policy });
  }

  async authMethods(): Promise<Record<string, MountInfo>> {
    const res = await this.read<{ data?: Record<string, MountInfo> } & Record<string, unknown>>('sys/auth');
    return (res.data ?? res) as Record<string, MountInfo>;
  }

  async enableAuthMethod(path: string, type: string): Promise<void> {
    await this.write(`sys/auth/${path}`, { type });
  }

  async auditDevices(): Promise<Record<string, { type: string; options: Record<string, string> }>> {
    const res = await this.read<
      { data?: Record<string, { type: string; options: Record<string, string> }> } & Record<string, unknown>
    >('sys/audit');
    return (res.data ?? res) as Record<string, { type: string; options: Record<string, string> }>;
  }

  async enableAuditDevice(path: string, type: string, options: Record<string, string>): Promise<void> {
    await this.write(`sys/audit/${path}`, { type, options });
  }

  // ---- auth -------------------------------------------------------------------------------------------

  /** AppRole login; returns the token and leaves this client's own token alone. */
  async approleLogin(roleId: string, secretId: string, mount = 'approle'): Promise<LoginResult> {
    const res = await this.write<{
      auth: { client_token: string; lease_duration: number; renewable: boolean; policies: string[] };
    }>(`auth/${mount}/login`, { role_id: roleId, secret_id: secretId });
    return {
      token: res.auth.client_token,
      leaseDuration: res.auth.lease_duration,
      renewable: res.auth.renewable,
      policies: res.auth.policies,
    };
  }

  /**
   * Kubernetes auth login with a pod's service-account token (`jwt`); returns the token and leaves this
   * client's own token alone. Vault docs: auth/kubernetes/login {role, jwt}.
   */
  async kubernetesLogin(role: string, jwt: string, mount = 'kubernetes'): Promise<LoginResult> {
    const res = await this.write<{
      auth: { client_token: string; lease_duration: number; renewable: boolean; policies: string[] };
    }>(`auth/${mount}/login`, { role, jwt });
    return {
      token: res.auth.client_token,
      leaseDuration: res.auth.lease_duration,
      renewable: res.auth.renewable,
      policies: res.auth.policies,
    };
  }

  async lookupSelf(): Promise<TokenInfo> {
    const res = await this.read<{ data: TokenInfo }>('auth/token/lookup-self');
    return res.data;
  }

  async renewSelf(increment?: string): Promise<LoginResult> {
    const res = await this.write<{
      auth: { client_token: string; lease_duration: number; renewable: boolean; policies: string[] };
    }>('auth/token/renew-self', increment ? { increment } : {});
    return {
      token: res.auth.client_token,
      leaseDuration: res.auth.lease_duration,
      renewable: res.auth.renewable,
      policies: res.auth.policies,
    };
  }

  // ---- leases ----------------------------------------------------------------------------------------

  /**
   * sys/leases/renew/<lease id>: extends a lease by `incrementSeconds` (Vault's default when omitted), capped
   * by the max TTL of what it leases; the answer says how long it now lives. The lease id goes in the path so
   * that a policy can allow renewing only the leases under one prefix (`database/creds/<role>/*`).
   */
  async renewLease(leaseId: string, incrementSeconds?: number): Promise<LeaseRenewal> {
    const body: Record<string, unknown> = {};
    if (incrementSeconds !== undefined) body.increment = incrementSeconds;
    const res = await this.write<{ lease_id: string; lease_duration: number; renewable: boolean }>(
      `sys/leases/renew/${leaseId}`,
      body,
    );
    return { leaseId: res.lease_id, leaseDuration: res.lease_duration, renewable: res.renewable };
  }

  /**
   * sys/leases/revoke/<lease id>: ends a lease now; for database credentials Vault drops the user. It keeps the
   * per-request timeout although Vault works on PostgreSQL first: callers revoke on their way out (a shutdown must
   * not wait a minute), and a revocation that timed out only leaves the user until its lease ends.
   */
  async revokeLease(leaseId: string): Promise<void> {
    await this.write(`sys/leases/revoke/${leaseId}`, {});
  }

  // ---- KV v2 (node-vault has no helpers for it) -----------------------------------------------------

  /**
   * The current version of a KV v2 secret, or version `version` (a positive integer) when given.
   * Throws VaultNotFoundError when that version has no data: never written, deleted or destroyed.
   */
  async kvRead(mount: string, path: string, version?: number): Promise<KvSecret> {
    const query = version === undefined ? '' : `?version=${Math.trunc(version)}`;
    const res = await this.read<{ data: { data: Record<string, string> | null; metadata: KvMetadata } }>(
      `${mount}/data/${path}${query}`,
    );
    if (!res?.data?.data) throw new VaultNotFoundError(`${mount}/${path}`);
    return { data: res.data.data, ...res.data.metadata };
  }

  /** Writes a new version; `cas` makes it a check-and-set against that version (0 = must not exist). */
  async kvWrite(mount: string, path: string, data: Record<string, string>, cas?: number): Promise<KvMetadata> {
    const body: Record<string, unknown> = { data };
    if (cas !== undefined) body.options = { cas };
    const res = await this.write<{ data: KvMetadata }>(`${mount}/data/${path}`, body);
    return res.data;
  }

  async kvMetadata(mount: string, path: string): Promise<KvVersionInfo> {
    const res = await this.read<{ data: KvVersionInfo }>(`${mount}/metadata/${path}`);
    return res.data;
  }

  /** Destroys every version and the metadata: nothing of the secret stays in Vault. */
  async kvDestroyAll(mount: string, path: string): Promise<void> {
    await this.delete(`${mount}/metadata/${path}`);
  }

  async kvList(mount: string, path: string): Promise<string[]> {
    return this.list(`${mount}/metadata/${path}`);
  }
}

function checkPath(path: string): string {
  if (
    !SAFE_PATH.test(path) ||
    path
      .split('?')[0]!
      .split('/')
      .some((s) => s === '..' || s === '.')
  ) {
    // A programming error: callers validate user input before it gets here.
    throw new Error(`refusing unsafe Vault path ${JSON.stringify(path.slice(0, 200))}`);
  }
  return path;
}
