/**
 * Step 8, watch mode, for one Vault and for every node of a Raft cluster alike: each interval, every node's seal
 * status; a sealed node is unsealed (the one routine, unseal.ts), a node that is not initialized joins the active
 * node (cluster.ts's ensureMember; a single Vault that lost its storage is an error for a human). When no node was
 * unsealed at all (the whole Vault restarted), configuration runs again: cheap, and it repairs drift. Keeps the
 * operator token alive. On Raft storage it also reads autopilot's state, which health.ts reports.
 * Problems are logged when they start and when they end, per node, not on every tick.
 */
import { performance } from 'node:perf_hooks';
import {
  VaultForbiddenError,
  VaultRequestError,
  VaultUnreachableError,
  type Logger,
  type VaultClient,
} from '@aurora/common';
import { raftReadiness, type RaftReadiness } from './autopilot.js';
import { ensureMember, findActive } from './cluster.js';
import type { VaultInitConfig } from './config.js';
import { renewOperatorToken } from './configure/operator-token.js';
import { VaultInitError } from './errors.js';
import type { HealthState } from './health.js';
import type { InitMaterial, InitStore } from './init-store.js';
import { unsealAndConfigure } from './setup.js';
import { isStopping } from './critical.js';

/** While a node is down, restarting, or the cluster not yet ready, look again sooner: usually a second or two. */
const RETRY_TRANSIENT_MS = 200;
/** Other failures (a conflict, an unwritable volume) need a human: back off so the audit log does not fill up. */
const MAX_BACKOFF_MS = 30_000;
const OPERATOR_RENEW_EVERY_MS = 60 * 60 * 1000;

export type NodeState = 'unsealed' | 'sealed' | 'unreachable' | 'failed';

/** Problems that only a human can fix, as opposed to a node being down, sealed or restarting. */
function needsHuman(err: unknown): boolean {
  return (
    err instanceof VaultInitError ||
    err instanceof VaultForbiddenError ||
    (err instanceof VaultRequestError && err.vaultStatus < 500)
  );
}

export interface WatchOptions {
  /** Every node vault-init looks after: one for a single Vault (VAULT_ADDR), each of VAULT_HA_ADDRS otherwise. */
  nodes: VaultClient[];
  material: InitMaterial;
  store: InitStore;
  config: Readonly<VaultInitConfig>;
  logger: Logger;
  state: HealthState;
  operatorToken: string;
}

export class Watcher {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private running?: Promise<void>;
  private readonly problems = new Map<string, string>();
  private lastRenew = Date.now();
  private operatorToken: string;
  private failures = 0;
  private lastRaft?: string;

  constructor(private readonly o: WatchOptions) {
    this.operatorToken = o.operatorToken;
  }

  /**
   * Runs the first check at once (health knows the storage, and on Raft autopilot's verdict, when this resolves),
   * then every interval. Never rejects.
   */
  async start(): Promise<void> {
    const first = this.tick();
    this.running = first.then(() => undefined);
    this.schedule(this.nextDelay(await first));
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
    const settled = states.every((s) => s === 'unsealed') && this.o.state.healthy;
    return settled ? interval : Math.min(RETRY_TRANSIENT_MS, interval);
  }

  /** One round over every node, then configuration and (Raft) autopilot. Never throws. */
  async tick(): Promise<NodeState[]> {
    const { nodes, state } = this.o;
    const leader = await this.activeNode();
    const checks = await Promise.all(nodes.map((n) => this.checkNode(n, leader)));
    const states = checks.map((c) => c.state);
    // No node was unsealed (the whole Vault restarted, or its storage was restored): configure it again.
    if (!checks.some((c) => c.wasUnsealed)) state.configured = false;
    const reachable = states.filter((s) => s !== 'unreachable');
    state.unsealed = reachable.length > 0 && reachable.every((s) => s === 'unsealed');
    if (state.unsealed && (!state.configured || Date.now() - this.lastRenew >= OPERATOR_RENEW_EVERY_MS)) {
      try {
        await this.configureOrRenew();
        this.recovered('configure');
      } catch (err) {
        state.configured = false;
        this.report('configure', err instanceof Error ? err.message : String(err), err);
        return [...states, needsHuman(err) ? 'failed' : 'sealed'];
      }
    }
    await this.checkRaft(
      checks.find((c) => c.storage)?.storage,
      nodes.filter((_, i) => states[i] !== 'unsealed').map((n) => n.addr),
    );
    return states;
  }

  private async activeNode(): Promise<VaultClient | undefined> {
    const healths = await Promise.all(this.o.nodes.map((n) => n.health().catch(() => undefined)));
    const i = healths.findIndex((h) => h && h.initialized && !h.sealed && !h.standby);
    return i >= 0 ? this.o.nodes[i] : undefined;
  }

  private async checkNode(
    node: VaultClient,
    leader: VaultClient | undefined,
  ): Promise<{ state: NodeState; wasUnsealed: boolean; storage?: string }> {
    const { logger, material, store, nodes } = this.o;
    try {
      // The generic read keeps storage_type, which tells Raft storage (autopilot to check) from file storage.
      const status = await node.read<{ initialized: boolean; sealed: boolean; storage_type?: string }>(
        'sys/seal-status',
      );
      const storage = status.storage_type;
      if (status.initialized && !status.sealed) {
        this.recovered(node.addr);
        return { state: 'unsealed', wasUnsealed: true, storage };
      }
      if (!status.initialized && nodes.length === 1) {
        this.report(
          node.addr,
          `Vault at ${node.addr} is no longer initialized (its storage was replaced?). vault-init will not initialize it again ` +
            `while ${store.location} exists; restore Vault's data, or run \`make prod-local-clean\` to start over (destroys all secrets).`,
        );
        return { state: 'failed', wasUnsealed: false, storage };
      }
      if (!status.initialized && !leader) {
        this.report(node.addr, `Vault node ${node.addr} is not initialized and no node is active to join it to yet`);
        return { state: 'sealed', wasUnsealed: false, storage };
      }
      const started = performance.now();
      if (status.initialized) logger.warn('Vault node is sealed (restarted?): unsealing', { node: node.addr });
      const r = await ensureMember(node, leader, material, store.location, logger);
      logger.info('Vault node unsealed', {
        node: node.addr,
        joined: r.joined,
        durationMs: Math.round(performance.now() - started),
      });
      this.recovered(node.addr);
      return { state: 'unsealed', wasUnsealed: false, storage };
    } catch (err) {
      this.report(node.addr, err instanceof Error ? err.message : String(err), err);
      if (err instanceof VaultUnreachableError) return { state: 'unreachable', wasUnsealed: false };
      return { state: needsHuman(err) ? 'failed' : 'sealed', wasUnsealed: false };
    }
  }

  private async configureOrRenew(): Promise<void> {
    const { nodes, material, store, config, logger, state } = this.o;
    if (state.configured) {
      // renew-self with the operator token itself (forwarded by a standby): no root token needed (it may be revoked).
      const node = (await this.activeNode()) ?? nodes[0]!;
      if (await renewOperatorToken(node, this.operatorToken)) {
        this.lastRenew = Date.now();
        return;
      }
      state.configured = false; // a new one is written below
    }
    const started = performance.now();
    const active = await findActive(nodes, 10_000);
    const result = await unsealAndConfigure(active, material, store, config, logger);
    this.operatorToken = result.operatorToken;
    this.lastRenew = Date.now();
    state.configured = true;
    logger.info('Vault unsealed and configured', {
      active: active.addr,
      durationMs: Math.round(performance.now() - started),
    });
  }

  /**
   * Raft storage: autopilot's verdict, with every configured node a voter (autopilot.ts), and every configured
   * node answering unsealed (`notServing` lists those that do not). Read with the operator token through the
   * active node (any node would forward it). Other storage: nothing to wait for.
   */
  private async checkRaft(storage: string | undefined, notServing: string[]): Promise<void> {
    const { state, nodes, logger } = this.o;
    if (storage !== 'raft') {
      if (storage !== undefined) state.raft = null;
      return;
    }
    let raft: RaftReadiness;
    if (!state.configured) {
      raft = { ready: false, voters: 0, nodes: nodes.length, failureTolerance: 0, waitingFor: 'configuration' };
    } else {
      const via = (await this.activeNode()) ?? nodes[0]!;
      try {
        raft = await raftReadiness(via.withToken(this.operatorToken, 5000), nodes.length);
      } catch (err) {
        raft = {
          ready: false,
          voters: 0,
          nodes: nodes.length,
          failureTolerance: 0,
          waitingFor: `autopilot's state (reading sys/storage/raft/autopilot/state failed: ${(err as Error).message})`,
        };
      }
    }
    // Autopilot notices a dead voter only after its last-contact threshold (10 s); vault-init knows at once.
    if (notServing.length > 0)
      raft = {
        ...raft,
        ready: false,
        waitingFor: `${notServing.join(', ')} to answer unsealed; ${raft.waitingFor ?? `${raft.voters} of ${raft.nodes} nodes vote`}`,
      };
    state.raft = raft;
    const said = raft.ready ? 'ready' : raft.waitingFor;
    if (said === this.lastRaft) return;
    this.lastRaft = said;
    if (raft.ready)
      logger.info('Raft cluster ready: every node votes', {
        voters: raft.voters,
        failureTolerance: raft.failureTolerance,
      });
    else logger.info(`Raft cluster not ready: ${raft.waitingFor}`, { voters: raft.voters, nodes: raft.nodes });
  }

  private report(key: string, message: string, err?: unknown): void {
    // While vault-init stops, what fails is the stop's doing (or no longer anyone's concern): nothing to report.
    if (isStopping()) return;
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
