/**
 * A 3-node Vault cluster on integrated Raft storage, on loopback ports: the process-harness form of the HA
 * profile (docs/operations.md). Each node is the pinned Vault binary with its own raft dir, API port and
 * cluster port; nodes can be killed -9 and restarted on the same dir and ports (they come back sealed).
 * Initialization, join and unseal are plain API calls here, as vault-init would make them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { exited, freePort, spawnServer, stopProcess, tempDir, waitFor } from './processes.js';
import { VAULT_TELEMETRY, vaultBinary } from './vault.js';

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
    retryJoin: string[],
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
        ...retryJoin.map((a) => `  retry_join {\n    leader_api_addr = ${JSON.stringify(a)}\n  }`),
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
    await waitFor(
      `raft node ${this.id} to answer on ${this.addr} (log: ${this.logFile})`,
      async () => {
        if (child.exitCode !== null)
          throw new Error(`vault exited ${child.exitCode}: ${fs.readFileSync(this.logFile, 'utf8').slice(-2000)}`);
        const res = await fetch(`${this.addr}/v1/sys/health?uninitcode=200&sealedcode=200&standbycode=200`);
        return res.ok ? true : undefined;
      },
      30_000,
      50,
    );
  }

  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child);
  }

  /** kill -9: no step-down, no seal. */
  async kill(): Promise<void> {
    if (!this.child || !this.running) return;
    this.child.kill('SIGKILL');
    await exited(this.child);
  }

  async health(): Promise<RaftHealth> {
    const res = await fetch(`${this.addr}/v1/sys/health`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as Omit<RaftHealth, 'status'>;
    return { ...body, status: res.status };
  }

  async api<T = unknown>(
    method: string,
    p: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; json: T }> {
    const res = await fetch(`${this.addr}/v1/${p}`, {
      method,
      headers: token ? { 'x-vault-token': token } : {},
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : {}) as T };
  }

  /** Unseals with `keys` (threshold of them), as vault-init does. */
  async unseal(keys: string[]): Promise<void> {
    for (const key of keys) {
      const r = await this.api<{ sealed: boolean; errors?: string[] }>('POST', 'sys/unseal', { key });
      if (r.status !== 200)
        throw new Error(`unseal of ${this.id} answered ${r.status}: ${(r.json.errors ?? []).join('; ')}`);
      if (!r.json.sealed) return;
    }
  }
}

export class RaftCluster {
  rootToken = '';
  keys: string[] = [];

  private constructor(
    readonly dir: string,
    readonly nodes: RaftNode[],
  ) {}

  /**
   * Starts `size` uninitialized nodes; with `retryJoin` each lists the others under retry_join (else join explicitly).
   */
  static async start(size = 3, options: { retryJoin?: boolean } = {}): Promise<RaftCluster> {
    const dir = tempDir('raft');
    const ports: Array<[number, number]> = [];
    for (let i = 0; i < size; i++) ports.push([await freePort(), await freePort()]);
    const addrs = ports.map(([api]) => `http://127.0.0.1:${api}`);
    const nodes = ports.map(([api, cluster], i) => {
      const nodeDir = path.join(dir, `node-${i + 1}`);
      fs.mkdirSync(nodeDir, { recursive: true });
      return new RaftNode(
        `node-${i + 1}`,
        nodeDir,
        api,
        cluster,
        options.retryJoin ? addrs.filter((_, j) => j !== i) : [],
      );
    });
    const cluster = new RaftCluster(dir, nodes);
    try {
      await Promise.all(nodes.map((n) => n.start()));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** sys/init on `first`, unseal it, wait until it is the active node. */
  async initialize(first: RaftNode, shares = 3, threshold = 2): Promise<void> {
    const r = await first.api<{ keys_base64: string[]; root_token: string }>('POST', 'sys/init', {
      secret_shares: shares,
      secret_threshold: threshold,
    });
    if (r.status !== 200) throw new Error(`sys/init on ${first.id} answered ${r.status}`);
    this.keys = r.json.keys_base64;
    this.rootToken = r.json.root_token;
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
    const r = await node.api<{ joined: boolean; errors?: string[] }>('POST', 'sys/storage/raft/join', {
      leader_api_addr: leader.addr,
    });
    if (r.status !== 200 || !r.json.joined)
      throw new Error(`raft join of ${node.id} answered ${r.status}: ${(r.json.errors ?? []).join('; ')}`);
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
    const r = await active.api<{
      data: { config: { servers: Array<{ node_id: string; voter: boolean; leader: boolean }> } };
    }>('GET', 'sys/storage/raft/configuration', undefined, this.rootToken);
    return r.json.data.config.servers;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.stop()));
  }
}
