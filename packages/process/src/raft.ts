/**
 * A 3-node Vault cluster on integrated Raft storage, on loopback ports: the process-harness form of the HA
 * profile (docs/operations.md). Each node is the pinned Vault binary with its own raft dir, API port and
 * cluster port; nodes can be killed -9 and restarted on the same dir and ports (they come back sealed).
 * Initialization, join and unseal are plain API calls here, as vault-init would make them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import {
  VaultForbiddenError,
  VaultNotFoundError,
  VaultRequestError,
  VaultSealedError,
  VaultClient,
} from '@aurora/common';
import { killProcess, freePort, spawnServer, stopIfSetUpFails, stopProcess, tempDir, waitFor } from './processes.js';
import { VAULT_TELEMETRY, vaultBinary, waitVaultAnswers } from './vault.js';

export interface RaftHealth {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  status: number;
}

export class RaftNode {
  readonly addr: string;
  readonly configPath: string;
  readonly logFile: string;
  readonly dataDir: string;
  private child?: ChildProcess;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly apiPort: number,
    readonly clusterPort: number,
  ) {
    this.addr = `http://127.0.0.1:${apiPort}`;
    this.configPath = path.join(dir, 'vault.hcl');
    this.logFile = path.join(dir, 'vault.log');
    this.dataDir = path.join(dir, 'raft');
    fs.mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(
      this.configPath,
      [
        'storage "raft" {',
        `  path = ${JSON.stringify(this.dataDir)}`,
        `  node_id = ${JSON.stringify(id)}`,
        // Leader elections within about a second instead of five: the harness runs on loopback.
        '  performance_multiplier = 1',
        // Autopilot acts every 2 s instead of 10 s (promotions of joined nodes to voters), as in compose's local
        // HA profile (vault/config-ha/node-*.hcl).
        '  autopilot_reconcile_interval = "2s"',
        // No retry_join: vault-init (or the test) joins explicitly, and the two race (vault/config-ha/node-1.hcl).
        '}',
        `listener "tcp" {\n  address = "127.0.0.1:${apiPort}"\n  cluster_address = "127.0.0.1:${clusterPort}"\n  tls_disable = true\n}`,
        `api_addr = "${this.addr}"`,
        `cluster_addr = "https://127.0.0.1:${clusterPort}"`,
        'disable_mlock = true',
        VAULT_TELEMETRY,
      ].join('\n'),
    );
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    this.child = spawnServer(vaultBinary(), ['server', `-config=${this.configPath}`], {
      logFile: this.logFile,
      env: { ...process.env, VAULT_LOG_LEVEL: 'info', SKIP_SETCAP: '1' },
    });
    const child = this.child;
    await waitVaultAnswers(child, this.addr, this.logFile, `raft node ${this.id} to answer on ${this.addr}`);
  }

  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child);
  }

  /** kill -9: no step-down, no seal. */
  async kill(): Promise<void> {
    if (this.child && this.running) await killProcess(this.child);
  }

  /** SIGSTOP: the process holds still (answers nothing, changes nothing) until resume(). */
  pause(): void {
    if (this.child?.pid && this.running) process.kill(this.child.pid, 'SIGSTOP');
  }

  /** SIGCONT after pause(). */
  resume(): void {
    if (this.child?.pid && this.running) process.kill(this.child.pid, 'SIGCONT');
  }

  /** This node through the one Vault client. */
  vault(timeoutMs = 10_000, token?: string): VaultClient {
    return new VaultClient({ addr: this.addr, token, timeoutMs });
  }

  /** sys/health, with the status code Vault would answer without overrides (200 active, 429 standby, ...). */
  async health(): Promise<RaftHealth> {
    const h = await this.vault(2000).health();
    const status = !h.initialized ? 501 : h.sealed ? 503 : h.standby ? 429 : 200;
    return { initialized: h.initialized, sealed: h.sealed, standby: h.standby, status };
  }

  /**
   * One call through the client, answered as Vault's status and body: 200 with a body, 204 without, the error's
   * status (403, 404, 503 sealed, any other) with an empty body. No answer at all throws.
   */
  async api<T = unknown>(
    method: 'GET' | 'POST' | 'PUT' | 'LIST' | 'DELETE',
    p: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; json: T }> {
    const vault = this.vault(10_000, token);
    try {
      const res =
        method === 'GET'
          ? await vault.read<T>(p)
          : method === 'POST' || method === 'PUT'
            ? await vault.write<T>(p, body ?? {})
            : method === 'LIST'
              ? ({ data: { keys: await vault.list(p) } } as T)
              : await vault.delete(p);
      return res === undefined || res === null || (res as unknown) === ''
        ? { status: 204, json: {} as T }
        : { status: 200, json: res as T };
    } catch (err) {
      const status =
        err instanceof VaultForbiddenError
          ? 403
          : err instanceof VaultNotFoundError
            ? 404
            : err instanceof VaultSealedError
              ? 503
              : err instanceof VaultRequestError
                ? err.vaultStatus
                : undefined;
      if (status === undefined) throw err;
      return { status, json: {} as T };
    }
  }

  /** Unseals with `keys` (threshold of them), as vault-init does. */
  async unseal(keys: string[]): Promise<void> {
    const vault = this.vault();
    for (const key of keys) if (!(await vault.unseal(key)).sealed) return;
  }
}

export class RaftCluster {
  rootToken = '';
  keys: string[] = [];

  private constructor(
    readonly dir: string,
    readonly nodes: RaftNode[],
  ) {}

  /** Starts `size` uninitialized nodes; they join when told to (sys/storage/raft/join), as vault-init does. */
  static async start(size = 3): Promise<RaftCluster> {
    const dir = tempDir('raft');
    const ports: Array<[number, number]> = [];
    for (let i = 0; i < size; i++) ports.push([await freePort(), await freePort()]);
    const nodes = ports.map(([api, cluster], i) => {
      const nodeDir = path.join(dir, `node-${i + 1}`);
      fs.mkdirSync(nodeDir, { recursive: true });
      return new RaftNode(`node-${i + 1}`, nodeDir, api, cluster);
    });
    return stopIfSetUpFails(new RaftCluster(dir, nodes), () => Promise.all(nodes.map((n) => n.start())));
  }

  /** sys/init on `first`, unseal it, wait until it is the active node. */
  async initialize(first: RaftNode, shares = 3, threshold = 2): Promise<void> {
    const init = await first.vault().initialize(shares, threshold);
    this.keys = init.keys_base64;
    this.rootToken = init.root_token;
    await first.unseal(this.keys);
    await this.waitActive([first]);
  }

  /** The node that answers sys/health with 200 (active), among `among`. */
  async waitActive(among: RaftNode[] = this.nodes, timeoutMs = 60_000): Promise<RaftNode> {
    return waitFor(
      `an active node among ${among.map((n) => n.id).join(', ')}`,
      async () => {
        for (const n of among) {
          if (!n.running) continue;
          const h = await n.health().catch(() => undefined);
          if (h?.status === 200) return n;
        }
        return undefined;
      },
      timeoutMs,
      100,
    );
  }

  /** POST sys/storage/raft/join on `node` (unauthenticated on an uninitialized node), then unseal it. */
  async join(node: RaftNode, leader: RaftNode): Promise<void> {
    if (!(await node.vault().raft.join(leader.addr))) throw new Error(`raft join of ${node.id}: Vault says not joined`);
    await node.unseal(this.keys);
    await waitFor(
      `${node.id} to be an unsealed standby`,
      async () => {
        const h = await node.health().catch(() => undefined);
        return h && !h.sealed && h.standby ? true : undefined;
      },
      60_000,
      100,
    );
  }

  /** The raft peers and whether each votes, as the active node sees them. */
  async peers(): Promise<Array<{ node_id: string; voter: boolean; leader: boolean }>> {
    const active = await this.waitActive();
    return active.vault(10_000, this.rootToken).raft.configuration();
  }

  /** Raft autopilot's view (sys/storage/raft/autopilot/state), as the active node sees it. */
  async autopilot(): Promise<{ healthy: boolean; failure_tolerance: number; voters: string[]; leader: string }> {
    const active = await this.waitActive();
    const r = await active.api<{
      data: { healthy: boolean; failure_tolerance: number; voters: string[]; leader: string };
    }>('GET', 'sys/storage/raft/autopilot/state', undefined, this.rootToken);
    if (r.status !== 200) throw new Error(`autopilot state answered ${r.status}: ${JSON.stringify(r.json)}`);
    return r.json.data;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.stop()));
  }
}
