/**
 * The HA profile as processes: a 3-node Raft cluster (raft.ts), vault-init in HA mode (VAULT_HA_ADDRS, watch
 * loop), PostgreSQL and the app pointed at a standby (standbys forward to the active node, as the alias
 * vault-ha does in compose), with one Client `writer` allowed everything. For the tests of make backup /
 * make restore on Raft storage; `target()` is the same DirTarget class the native stack uses.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient } from '@aurora/common';
import { DirTarget } from '../../scripts/ops/dir-target.js';
import { parseDoctor } from '../../scripts/ops/doctor-report.js';
import {
  AppProcess,
  PostgresServer,
  postgresBinDir,
  stopIfSetUpFails,
  readHttpResult,
  tempDir,
  waitFor,
  RaftCluster,
  type RaftNode,
  credentialRows,
  kvVersions,
  putClientRow,
  type HttpResult,
  vaultInitDirs,
  vaultInitEnv,
  VaultInitProcess,
  type VaultInitDirs,
} from '@aurora/process';

export interface HaStackOptions {
  /** Reuse this PostgreSQL (a second cluster restoring the first one's backup); it is not stopped by stop(). */
  postgres?: PostgresServer;
  /** Extra vault-init settings (e.g. VAULT_REVOKE_ROOT_TOKEN). */
  vaultInitEnv?: Record<string, string>;
  /** Told each new thing vault-init's health waits for while it is not healthy (e.g. "1 of 3 nodes vote; …"). */
  onWaiting?: (what: string) => void;
}

export class HaStack {
  vaultInit?: VaultInitProcess;
  app!: AppProcess;
  initEnv!: Record<string, string>;
  readonly vaultInitLogs: string[] = [];
  private stopping = false;
  private readonly writerSecret = `cs-writer-${crypto.randomBytes(18).toString('base64url')}`;

  private constructor(
    readonly dir: string,
    readonly cluster: RaftCluster,
    readonly postgres: PostgresServer,
    private readonly ownsPostgres: boolean,
    readonly initDirs: VaultInitDirs,
  ) {}

  static async start(options: HaStackOptions = {}): Promise<HaStack> {
    const [c, p] = await Promise.allSettled([RaftCluster.start(3), options.postgres ?? PostgresServer.start()]);
    if (c.status === 'rejected' || p.status === 'rejected') {
      await Promise.allSettled([
        c.status === 'fulfilled' ? c.value.stop() : undefined,
        p.status === 'fulfilled' && !options.postgres ? p.value.stop() : undefined,
      ]);
      throw c.status === 'rejected' ? c.reason : (p as PromiseRejectedResult).reason;
    }
    const stack = new HaStack(tempDir('ha-stack'), c.value, p.value, !options.postgres, vaultInitDirs());
    return stopIfSetUpFails(stack, (s) => s.setUp(options));
  }

  private async setUp(options: HaStackOptions): Promise<void> {
    this.initEnv = await vaultInitEnv(this.cluster.nodes[0]!, this.initDirs, {
      VAULT_HA_ADDRS: this.cluster.nodes.map((n) => n.addr).join(','),
      VAULT_SECRET_SHARES: '3',
      VAULT_SECRET_THRESHOLD: '2',
      VAULT_WAIT_TIMEOUT_MS: '60000',
      // As in compose's local HA profile: autopilot makes a joined node a voter after 2 s instead of 10 s.
      VAULT_RAFT_SERVER_STABILIZATION_TIME: '2s',
      ...options.vaultInitEnv,
    });
    await this.startVaultInit();
    // Health is watched from here on (the app needs only the configuration, not the voters): start() returns the
    // moment vault-init reports healthy, or once the app is ready, whichever is later.
    const healthy = this.waitHealthy(180_000, options.onWaiting);
    healthy.catch(() => undefined); // awaited below; an app failure first must not leave it unhandled
    const init = this.initMaterial();
    this.cluster.keys = init.keys_base64;
    this.cluster.rootToken = init.root_token;

    const secretFile = path.join(this.dir, 'client-writer');
    fs.writeFileSync(secretFile, this.writerSecret, { mode: 0o400 });
    const configFile = path.join(this.dir, 'vault-config.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        secret: { 'client-writer': { path: secretFile, scope: { resource_type: 'Client', id: 'writer' } } },
      }),
    );
    this.app = await AppProcess.start(
      {
        VAULT_ADDR: this.standby().addr,
        VAULT_APPROLE_DIR: path.join(this.initDirs.approleDir, 'app'),
        SECRETS_CONFIG: configFile,
        CACHE_TTL_SECONDS: '0',
        AUTH_MAX_FAILURES: '10000',
        ...this.postgres.env,
      },
      path.join(this.dir, 'app'),
    );
    await putClientRow(this.postgres, {
      id: 'writer',
      permissions: { credentials: ['read', 'write', 'delete', 'resolve'], users: ['*'] },
    });
    await this.app.waitReady(60_000);
    await healthy;
  }

  /** The node the app talks to: the second one (vault-init initializes the first, which becomes active). */
  standby(): RaftNode {
    return this.cluster.nodes[1]!;
  }

  initMaterial(): { keys_base64: string[]; root_token: string } {
    return JSON.parse(fs.readFileSync(path.join(this.initDirs.initDir, 'init.json'), 'utf8')) as {
      keys_base64: string[];
      root_token: string;
    };
  }

  /** vault-init in watch mode; resolves once it watches (initialized or unsealed, joined, configured). */
  async startVaultInit(): Promise<void> {
    this.vaultInit = VaultInitProcess.start(this.initEnv);
    await this.vaultInit.waitForOutput(/watching the seal status/, 180_000);
  }

  /** vault-init's health: 200 only once autopilot says healthy with all three nodes voting (vault-init/health.ts). */
  async health(): Promise<{
    status: number;
    body: { waitingFor?: string; raft?: { ready: boolean; voters: number; nodes: number; failureTolerance: number } };
  }> {
    const res = await fetch(`http://127.0.0.1:${this.initEnv.VAULT_INIT_HEALTH_PORT}/health`, {
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, body: (await res.json()) as { waitingFor?: string } };
  }

  /**
   * Waits for vault-init's health 200, printing what it waits for (how many nodes vote, which ones it waits for)
   * each time that changes. Gives up when the stack is stopped.
   */
  async waitHealthy(timeoutMs = 120_000, onWaiting?: (what: string) => void): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let said = '';
    for (;;) {
      if (this.stopping) throw new Error('the HA stack was stopped while waiting for vault-init to be healthy');
      const h = await this.health().catch((err: Error) => ({ status: 0, body: { waitingFor: err.message } }));
      if (h.status === 200) return;
      if (h.body.waitingFor && h.body.waitingFor !== said) {
        said = h.body.waitingFor;
        onWaiting?.(said);
        process.stderr.write(`# ha-stack: vault-init waits for ${said}\n`);
      }
      if (Date.now() > deadline)
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for vault-init to be healthy; it waits for ${said}; ` +
            `the nodes say: ${await this.leaderViews()}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * What each node says of itself and of the leader it follows (sys/leader, unauthenticated): a standby that follows
   * another address than the active node's cluster address cannot send it the heartbeats autopilot counts.
   */
  async leaderViews(): Promise<string> {
    const views = await Promise.all(
      this.cluster.nodes.map(async (n) => {
        const l = await new VaultClient({ addr: n.addr, timeoutMs: 2000 })
          .read<{ is_self?: boolean; leader_cluster_address?: string; raft_applied_index?: number }>('sys/leader')
          .catch((err: Error) => err);
        if (l instanceof Error) return `${n.id} (cluster port ${n.clusterPort}): ${l.message}`;
        return `${n.id} (cluster port ${n.clusterPort}): ${l.is_self ? 'active' : `follows ${l.leader_cluster_address || 'no one'}`}, applied ${l.raft_applied_index}`;
      }),
    );
    return views.join('; ');
  }

  async stopVaultInit(): Promise<void> {
    if (!this.vaultInit) return;
    await this.vaultInit.stop();
    this.vaultInitLogs.push(this.vaultInit.output());
    this.vaultInit = undefined;
  }

  get vaultInitRunning(): boolean {
    const c = this.vaultInit?.child;
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  async request(method: string, urlPath: string, body?: unknown): Promise<HttpResult> {
    const headers: Record<string, string> = {
      authorization: `Basic ${Buffer.from(`writer:${this.writerSecret}`).toString('base64')}`,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.app.url}${urlPath}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    return readHttpResult(res);
  }

  /** The operator token vault-init wrote for the CLI (read each time: vault-init may re-issue it). */
  operator(): VaultClient {
    const token = fs.readFileSync(path.join(this.initDirs.cliDir, '.vault-token'), 'utf8').trim();
    return new VaultClient({ addr: this.standby().addr, token });
  }

  /** Every secret path under aurora/users/ with its current version, read through a standby. */
  vaultState(): Promise<Record<string, number>> {
    return kvVersions(this.operator());
  }

  rows(): Promise<string[]> {
    return credentialRows(this.postgres);
  }

  /** Every node answers, initialized and unsealed. */
  async allUnsealed(timeoutMs = 60_000): Promise<void> {
    await waitFor(
      'all three nodes unsealed',
      async () => {
        const hs = await Promise.all(this.cluster.nodes.map((n) => n.health().catch(() => undefined)));
        return hs.every((h) => h && h.initialized && !h.sealed) ? true : undefined;
      },
      timeoutMs,
      200,
    );
  }

  /**
   * make backup / make restore's view of this stack (scripts/ops/dir-target.ts), through a standby's address as
   * compose's vault-ha may land on one. Vault itself is never stopped on Raft storage.
   */
  target(name = 'ha-test'): DirTarget {
    return new DirTarget({
      name,
      kind: 'test',
      vaultAddr: this.standby().addr,
      raftNodeAddrs: this.cluster.nodes.map((n) => n.addr),
      vaultDataDir: path.join(this.dir, 'no-file-storage'),
      initFile: path.join(this.initDirs.initDir, 'init.json'),
      pg: {
        binDir: postgresBinDir(),
        host: this.postgres.host,
        port: this.postgres.port,
        user: this.postgres.user,
        database: this.postgres.database,
        passFile: this.postgres.pgPassFile,
      },
      control: {
        running: async () => [
          'vault-1',
          'vault-2',
          'vault-3',
          'postgres',
          ...(this.vaultInitRunning ? ['vault-init'] : []),
          ...(this.app.running ? ['app'] : []),
        ],
        stopVault: () => {
          throw new Error('Raft storage: make backup must not stop Vault');
        },
        startVault: () => {
          throw new Error('Raft storage: make backup must not stop Vault');
        },
        watcherRunning: async () => this.vaultInitRunning,
        stopForRestore: async (options) => {
          if (!options?.keepVault) throw new Error('Raft storage: make restore must keep Vault running');
          await this.app.stop();
          await this.stopVaultInit();
        },
        startAfterRestore: async () => {
          // As compose's target does (scripts/ops/compose-target.ts): the app starts once vault-init is healthy, i.e.
          // every node unsealed with the restored keys, serving the restored data, and voting again.
          await this.startVaultInit();
          await this.waitHealthy();
          await this.app.startProcess();
          await this.app.waitReady(60_000);
        },
        doctor: async () => parseDoctor(this.app.doctor(['--json']).stdout),
      },
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.app?.stop().catch(() => undefined);
    await this.stopVaultInit().catch(() => undefined);
    await Promise.allSettled([this.cluster.stop(), this.ownsPostgres ? this.postgres.stop() : undefined]);
  }
}
