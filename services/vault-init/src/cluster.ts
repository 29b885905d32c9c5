/**
 * Multi-node mode (VAULT_HA_ADDRS): the same steps as setup.ts, for a Vault cluster on integrated Raft storage.
 *   wait for every node → initialize the first node if no node is initialized (init.json written first, by
 *   initialize.ts) → unseal it → every other node: join the active node (sys/storage/raft/join) if it is not
 *   initialized yet, then unseal it → configure once, through the active node → banner.
 * Explicit joins make the order deterministic; nodes that also carry `retry_join` blocks (compose's
 * vault/config-ha/node-*.hcl) are fine with that: an explicit join of a node that is already a member is skipped
 * because the node then reports itself initialized.
 * ClusterWatcher keeps every node unsealed; configuration is replicated by Raft, so it runs again only when it
 * has not succeeded yet.
 */
import { performance } from 'node:perf_hooks';
import {
  VaultClient,
  VaultForbiddenError,
  VaultRequestError,
  VaultUnreachableError,
  type HealthStatus,
  type Logger,
} from '@aurora/common';
import type { VaultInitConfig } from './config.js';
import type { ConfigureResult } from './configure/index.js';
import { renewOperatorToken } from './configure/operator-token.js';
import { InitMaterialError, VaultInitError } from './errors.js';
import type { HealthState } from './health.js';
import { ensureInitialized } from './initialize.js';
import { createInitStore, type InitMaterial, type InitStore } from './init-store.js';
import { announce, step, unsealAndConfigure } from './setup.js';
import { waitForVault } from './wait.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ClusterSetupResult {
  nodes: VaultClient[];
  store: InitStore;
  material: InitMaterial;
  fresh: boolean;
  configured: ConfigureResult;
  /** The node that was active when configuration ran. */
  active: VaultClient;
}

/** The active node among `nodes` (initialized, unsealed, not a standby), waiting for an election if needed. */
export async function findActive(nodes: readonly VaultClient[], timeoutMs = 30_000): Promise<VaultClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const healths = await Promise.all(nodes.map((n) => n.health().catch(() => undefined)));
    const i = healths.findIndex((h) => h && h.initialized && !h.sealed && !h.standby);
    if (i >= 0) return nodes[i]!;
    if (Date.now() > deadline) {
      throw new Error(
        `no active Vault node among ${nodes.map((n) => n.addr).join(', ')} within ${timeoutMs} ms ` +
          `(states: ${healths.map((h, j) => `${nodes[j]!.addr}=${h ? (h.sealed ? 'sealed' : h.standby ? 'standby' : 'uninitialized') : 'unreachable'}`).join(' ')})`,
      );
    }
    await sleep(100);
  }
}

/**
 * Brings one node into the cluster and unseals it: join `leader` first when the node is not initialized (a new
 * node, or one whose storage was wiped). True when the node was joined or unsealed by this call.
 */
export async function ensureMember(
  node: VaultClient,
  leader: VaultClient | undefined,
  material: InitMaterial,
  initFile: string,
  logger: Logger,
): Promise<{ joined: boolean; unsealed: boolean }> {
  const status = await node.sealStatus();
  let joined = false;
  if (!status.initialized) {
    if (!leader) return { joined: false, unsealed: false };
    if (node.addr === leader.addr) throw new Error(`${node.addr} is both the leader and not initialized`);
    logger.info('joining the Raft cluster', { node: node.addr, leader: leader.addr });
    const answer = await node.write<{ joined?: boolean }>('sys/storage/raft/join', { leader_api_addr: leader.addr });
    if (!answer?.joined)
      throw new Error(`${node.addr} did not join the Raft cluster of ${leader.addr} (it answered joined=false)`);
    joined = true;
  } else if (!status.sealed) {
    return { joined: false, unsealed: false };
  }
  await unsealMember(node, material, initFile, logger);
  return { joined, unsealed: true };
}

/**
 * Unseals one cluster member. A node that is joining (explicitly, or through its own retry_join, which makes it
 * report itself initialized) answers the threshold-th key with sealed=true and progress 0: it uses the keys to
 * answer the leader's challenge, then fetches the data and unseals by itself a moment later. So: submit exactly
 * the threshold, then wait.
 */
async function unsealMember(
  node: VaultClient,
  material: InitMaterial,
  initFile: string,
  logger: Logger,
  timeoutMs = 60_000,
): Promise<void> {
  let status = await node.sealStatus();
  if (status.progress > 0) {
    logger.warn('discarding partial unseal progress left by another client', {
      node: node.addr,
      progress: status.progress,
      threshold: status.t,
    });
    status = await node.unsealReset();
  }
  const needed = status.t > 0 ? status.t : material.threshold;
  if (material.keys_base64.length < needed) {
    throw new InitMaterialError(
      `${initFile} holds ${material.keys_base64.length} unseal key(s) but Vault at ${node.addr} needs ${needed}: the file belongs to another Vault.`,
      initFile,
    );
  }
  for (const key of material.keys_base64.slice(0, needed)) {
    try {
      status = await node.unseal(key);
    } catch (err) {
      if (err instanceof VaultRequestError && err.vaultStatus < 500) {
        await node.unsealReset().catch(() => undefined);
        throw new InitMaterialError(
          `Vault node ${node.addr} rejected the unseal keys in ${initFile} (Vault said: ${err.message.replace(/^.*?: /, '').replace(/\s+/g, ' ')}): ` +
            'the file belongs to another Vault, or was altered.',
          initFile,
          { cause: err },
        );
      }
      throw err;
    }
    if (!status.sealed) return;
  }
  const deadline = Date.now() + timeoutMs;
  while ((await node.sealStatus()).sealed) {
    if (Date.now() > deadline)
      throw new Error(
        `Vault node ${node.addr} joined the cluster but was still sealed ${timeoutMs} ms after the unseal keys (see its log)`,
      );
    await sleep(100);
  }
}

/** Unseals every initialized node and joins the others to the active one; returns the active node. */
async function formCluster(
  nodes: readonly VaultClient[],
  seed: VaultClient,
  material: InitMaterial,
  store: InitStore,
  logger: Logger,
): Promise<VaultClient> {
  // Every initialized node first, the seed first of all: after a restart of the whole cluster no node can become
  // active before a quorum of them is unsealed. (ensureMember leaves uninitialized nodes alone without a leader.)
  for (const node of [seed, ...nodes.filter((n) => n !== seed)]) {
    await ensureMember(node, undefined, material, store.location, logger);
  }
  const active = await findActive(nodes, 60_000);
  for (const node of nodes) {
    if (node === active) continue;
    const r = await ensureMember(node, active, material, store.location, logger);
    if (r.joined || r.unsealed) logger.info('node ready', { node: node.addr, joined: r.joined, unsealed: r.unsealed });
  }
  return active;
}

export async function setupCluster(config: Readonly<VaultInitConfig>, logger: Logger): Promise<ClusterSetupResult> {
  const nodes = config.haAddrs.map((addr) => new VaultClient({ addr, timeoutMs: 10_000 }));
  const store = createInitStore(config);
  const healths = await step(
    logger,
    'wait',
    () => Promise.all(nodes.map((n) => waitForVault(n, { timeoutMs: config.waitTimeoutMs, logger }))),
    (hs) => ({
      nodes: hs.map((h, i) => ({
        addr: nodes[i]!.addr,
        initialized: h.initialized,
        sealed: h.sealed,
        standby: h.standby,
      })),
      version: hs[0]?.version,
    }),
  );
  // An initialized node holds the cluster's keyring: it is the seed. None initialized: the first listed one.
  const initializedAt = healths.findIndex((h: HealthStatus) => h.initialized);
  const seed = nodes[Math.max(0, initializedAt)]!;
  const init = await step(
    logger,
    initializedAt >= 0 ? 'load-init-file' : 'initialize',
    () =>
      ensureInitialized(seed, store, {
        initialized: initializedAt >= 0,
        shares: config.secretShares,
        threshold: config.secretThreshold,
        logger,
      }),
    (o) => ({ fresh: o.fresh, file: store.location, node: seed.addr }),
  );
  const active = await step(
    logger,
    'form-cluster',
    () => formCluster(nodes, seed, init.material, store, logger),
    (a) => ({ active: a.addr, nodes: nodes.length }),
  );
  const configured = await unsealAndConfigure(active, init.material, store, config, logger);
  announce(config, init.material, store, init.fresh, logger);
  return { nodes, store, material: init.material, fresh: init.fresh, configured, active };
}

const RETRY_TRANSIENT_MS = 200;
const MAX_BACKOFF_MS = 30_000;
const OPERATOR_RENEW_EVERY_MS = 60 * 60 * 1000;

type NodeState = 'unsealed' | 'sealed' | 'unreachable' | 'failed';

export interface ClusterWatchOptions {
  nodes: VaultClient[];
  material: InitMaterial;
  store: InitStore;
  config: Readonly<VaultInitConfig>;
  logger: Logger;
  state: HealthState;
  operatorToken: string;
}

/**
 * Watch mode for a cluster: every interval, each node's seal status; a sealed node is unsealed, an
 * uninitialized one (new or wiped storage) joins the active node first. Healthy = every reachable node
 * unsealed (at least one reachable) and the configuration done. Problems are logged per node, when they
 * start and when they end.
 */
export class ClusterWatcher {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private running?: Promise<void>;
  private readonly problems = new Map<string, string>();
  private lastRenew = Date.now();
  private operatorToken: string;
  private failures = 0;

  constructor(private readonly o: ClusterWatchOptions) {
    this.operatorToken = o.operatorToken;
  }

  start(): void {
    this.schedule(this.o.config.watchIntervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().then((states) => this.schedule(this.nextDelay(states)));
    }, ms);
  }

  private nextDelay(states: NodeState[]): number {
    const interval = this.o.config.watchIntervalMs;
    if (states.includes('failed')) {
      this.failures += 1;
      return Math.min(MAX_BACKOFF_MS, interval * 2 ** (this.failures - 1));
    }
    this.failures = 0;
    // A node down or still sealed is usually back within a second: look again sooner.
    return states.every((s) => s === 'unsealed') ? interval : Math.min(RETRY_TRANSIENT_MS, interval);
  }

  /** One round over every node. Never throws. */
  async tick(): Promise<NodeState[]> {
    const { nodes, state } = this.o;
    const leader = await this.activeNode();
    const states = await Promise.all(nodes.map((n) => this.checkNode(n, leader)));
    const reachable = states.filter((s) => s !== 'unreachable');
    state.unsealed = reachable.length > 0 && reachable.every((s) => s === 'unsealed');
    if (state.unsealed && (!state.configured || Date.now() - this.lastRenew >= OPERATOR_RENEW_EVERY_MS)) {
      try {
        await this.configureOrRenew();
        this.recovered('configure');
      } catch (err) {
        state.configured = false;
        this.report('configure', err instanceof Error ? err.message : String(err), err);
        if (needsHuman(err)) return [...states, 'failed'];
        return [...states, 'sealed'];
      }
    }
    return states;
  }

  private async activeNode(): Promise<VaultClient | undefined> {
    const healths = await Promise.all(this.o.nodes.map((n) => n.health().catch(() => undefined)));
    const i = healths.findIndex((h) => h && h.initialized && !h.sealed && !h.standby);
    return i >= 0 ? this.o.nodes[i] : undefined;
  }

  private async checkNode(node: VaultClient, leader: VaultClient | undefined): Promise<NodeState> {
    const { logger, material, store } = this.o;
    try {
      const status = await node.sealStatus();
      if (status.initialized && !status.sealed) {
        this.recovered(node.addr);
        return 'unsealed';
      }
      const started = performance.now();
      if (status.initialized) logger.warn('Vault node is sealed (restarted?): unsealing', { node: node.addr });
      else if (!leader) {
        this.report(node.addr, `Vault node ${node.addr} is not initialized and no node is active to join it to yet`);
        return 'sealed';
      }
      const r = await ensureMember(node, leader, material, store.location, logger);
      logger.info('Vault node unsealed', {
        node: node.addr,
        joined: r.joined,
        durationMs: Math.round(performance.now() - started),
      });
      this.recovered(node.addr);
      return 'unsealed';
    } catch (err) {
      this.report(node.addr, err instanceof Error ? err.message : String(err), err);
      if (err instanceof VaultUnreachableError) return 'unreachable';
      return needsHuman(err) ? 'failed' : 'sealed';
    }
  }

  private async configureOrRenew(): Promise<void> {
    const { nodes, material, store, config, logger, state } = this.o;
    if (state.configured) {
      // renew-self with the operator token itself (forwarded by a standby): no root token needed.
      const node = (await this.activeNode()) ?? nodes[0]!;
      if (await renewOperatorToken(node, this.operatorToken)) {
        this.lastRenew = Date.now();
        return;
      }
      state.configured = false;
    }
    const started = performance.now();
    const active = await findActive(nodes, 10_000);
    const result = await unsealAndConfigure(active, material, store, config, logger);
    this.operatorToken = result.operatorToken;
    this.lastRenew = Date.now();
    state.configured = true;
    logger.info('Vault cluster configured', {
      active: active.addr,
      durationMs: Math.round(performance.now() - started),
    });
  }

  private report(key: string, message: string, err?: unknown): void {
    if (this.problems.get(key) === message) return;
    this.problems.set(key, message);
    this.o.logger.error(message, err === undefined ? { node: key } : { node: key, err });
  }

  private recovered(key: string): void {
    const previous = this.problems.get(key);
    if (previous === undefined) return;
    this.problems.delete(key);
    this.o.logger.info('recovered', { node: key, previousProblem: previous });
  }
}

/** Problems that only a human can fix, as opposed to a node being down, sealed or restarting. */
function needsHuman(err: unknown): boolean {
  return (
    err instanceof VaultInitError ||
    err instanceof VaultForbiddenError ||
    (err instanceof VaultRequestError && err.vaultStatus < 500)
  );
}
