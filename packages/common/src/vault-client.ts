/**
 * The one wrapper around node-vault. Nobody else imports node-vault: its quirks stay here.
 *
 * - Only the generic read/write/list/delete calls are used: node-vault's per-command schemas drop fields
 *   they do not know, and its login helpers replace `client.token` as a side effect.
 * - Every path is checked against a safe character set before it reaches node-vault, which puts paths
 *   into URLs without encoding them.
 * - Errors become our types (sealed, unreachable, forbidden, not found, conflict), so the HTTP layer maps
 *   each to one status in one place. Vault's messages never carry secret values; request bodies are
 *   never included.
 * - One keep-alive agent per client: no per-request connection setup.
 */
import http from 'node:http';
import https from 'node:https';
import nodeVault from 'node-vault';
import {
  AuroraError,
  VaultConflictError,
  VaultForbiddenError,
  VaultNotFoundError,
  VaultRequestError,
  VaultSealedError,
  VaultUnreachableError,
} from './errors.js';

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

export interface SealStatus {
  initialized: boolean;
  sealed: boolean;
  t: number;
  n: number;
  progress: number;
  version: string;
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
  code?: string;
  message?: string;
}

export class VaultClient {
  readonly addr: string;
  private readonly raw: nodeVault.client;

  constructor(options: VaultClientOptions) {
    this.addr = options.addr.replace(/\/+$/, '');
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
    const agent = this.addr.startsWith('https:') ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    const requestOptions: Record<string, unknown> = { timeout: options.timeoutMs ?? 5000 };
    requestOptions[this.addr.startsWith('https:') ? 'httpsAgent' : 'httpAgent'] = agent;
    this.raw = nodeVault({ endpoint: this.addr, token: options.token, requestOptions });
    // node-vault falls back to VAULT_TOKEN from the environment; we decide about tokens explicitly.
    this.raw.token = options.token ?? '';
  }

  get token(): string {
    return this.raw.token;
  }
  set token(value: string) {
    this.raw.token = value;
  }

  /** A client for the same Vault with another token (shares nothing mutable with this one). */
  withToken(token: string, timeoutMs?: number): VaultClient {
    return new VaultClient({ addr: this.addr, token, timeoutMs });
  }

  // ---- generic calls, with error mapping -------------------------------------------------------------

  async read<T = unknown>(path: string): Promise<T> {
    return this.call(path, () => this.raw.read(checkPath(path)));
  }

  async write<T = unknown>(path: string, data: unknown): Promise<T> {
    return this.call(path, () => this.raw.write(checkPath(path), data));
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
    if (err instanceof AuroraError) return err;
    const e = err as ApiError;
    const status = e?.response?.statusCode;
    if (typeof status === 'number') {
      const first = e.response?.body?.errors?.[0];
      const message = typeof first === 'string' ? first : `status ${status}`;
      if (status === 503 && /sealed/i.test(message)) return new VaultSealedError(err);
      if (status === 403) return new VaultForbiddenError(path, err);
      if (status === 404) return new VaultNotFoundError(path, err);
      if (/check-and-set/i.test(message)) return new VaultConflictError(path, err);
      return new VaultRequestError(path, status, message, err);
    }
    // Network errors arrive as raw axios / Node errors.
    return new VaultUnreachableError(this.addr, err);
  }

  // ---- sys --------------------------------------------------------------------------------------------

  /** Liveness and state; answers 200 whatever the state, so sealed and uninitialized are data, not errors. */
  async health(): Promise<HealthStatus> {
    const body = await this.read<HealthStatus>(
      'sys/health?uninitcode=200&sealedcode=200&standbycode=200&perfstandbycode=200',
    );
    return { initialized: body.initialized, sealed: body.sealed, standby: body.standby, version: body.version };
  }

  async sealStatus(): Promise<SealStatus> {
    return this.read<SealStatus>('sys/seal-status');
  }

  async initialize(secretShares: number, secretThreshold: number): Promise<InitResponse> {
    return this.write<InitResponse>('sys/init', { secret_shares: secretShares, secret_threshold: secretThreshold });
  }

  async unseal(key: string): Promise<SealStatus> {
    return this.write<SealStatus>('sys/unseal', { key });
  }

  /** Discards unseal progress someone else left behind. */
  async unsealReset(): Promise<SealStatus> {
    return this.write<SealStatus>('sys/unseal', { reset: true });
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

  async tuneMount(path: string, options: Record<string, string>): Promise<void> {
    await this.write(`sys/mounts/${path}/tune`, { options });
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

  // ---- KV v2 (node-vault has no helpers for it) -----------------------------------------------------

  async kvRead(mount: string, path: string): Promise<KvSecret> {
    const res = await this.read<{ data: { data: Record<string, string> | null; metadata: KvMetadata } }>(
      `${mount}/data/${path}`,
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
