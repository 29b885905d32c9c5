/**
 * Multi-node mode (VAULT_HA_ADDRS): the same steps as setup.ts, for a Vault cluster on integrated Raft storage.
 *   wait for the nodes (wait.ts, waitForNodes) → initialize the first node if no node is initialized (init.json
 *   written first, by initialize.ts) → unseal it → every other node: join the active node (sys/storage/raft/join)
 *   if it is not initialized yet, then unseal it → configure once, through the active node → banner.
 * Explicit joins make the order deterministic, and they must be the only way in: a node that also carries a
 * `retry_join` block can be left with Vault's retry join recorded as pending after this join, and its next unseal
 * then never returns (docs/operations.md, "Why the node configs have no retry_join").
 * Afterwards watch.ts's Watcher keeps every node unsealed, the same loop as for a single Vault.
 */
import { VaultClient, VaultUnreachableError, type HealthStatus, type Logger } from '@aurora/common';
import type { VaultInitConfig } from './config.js';
import type { ConfigureResult } from './configure/index.js';
import { EXIT, VaultInitError } from './errors.js';
import { ensureInitialized } from './initialize.js';
import { createInitStore, type InitMaterial, type InitStore } from './init-store.js';
import { announce, step, unsealAndConfigure } from './setup.js';
import { unseal } from './unseal.js';
import { waitForNodes } from './wait.js';

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
    // Every node that answers is sealed (restarted meanwhile): only an unseal helps, and that is the caller's
    // next step, so waiting here would only delay it.
    const answered = healths.filter((h) => h !== undefined);
    const allSealed = answered.length > 0 && answered.every((h) => h.sealed);
    if (allSealed || Date.now() > deadline) {
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
  try {
    await unseal(node, material, { initFile, logger });
  } catch (err) {
    throw unsealNotAnswered(err) ?? err;
  }
  return { joined, unsealed: true };
}

/**
 * A Raft node that does not answer sys/unseal at all is, in practice, not slow: Vault holds the call (and its
 * state lock) until a pending retry join completes, which after a race with an explicit join never happens.
 * The timeout alone would say "overloaded or stalled" and send the user the wrong way. Undefined for other errors.
 */
function unsealNotAnswered(err: unknown): VaultInitError | undefined {
  if (!(err instanceof VaultUnreachableError)) return undefined;
  if ((err.cause as NodeJS.ErrnoException | undefined)?.code !== 'ETIMEDOUT') return undefined;
  return new VaultInitError(
    EXIT.unreachable,
    `${err.message}\nIf that node's log says "waiting for raft retry join process to complete", it waits for a ` +
      'retry join that never comes: its config has a retry_join block and vault-init joined it too. Remove the ' +
      'retry_join block and restart that node; vault-init unseals it again (docs/operations.md, "Why the node ' +
      'configs have no retry_join").',
    { cause: err },
  );
}

/**
 * Unseals every initialized node of `present` (the nodes that answered) and joins the others to the active one;
 * returns the active node. The active node is looked for among all `nodes`: one that was slow to answer (busy
 * applying a snapshot, say) may well be the leader.
 */
async function formCluster(
  nodes: readonly VaultClient[],
  present: readonly VaultClient[],
  seed: VaultClient,
  material: InitMaterial,
  store: InitStore,
  logger: Logger,
): Promise<VaultClient> {
  // Every initialized node first, the seed first of all: after a restart of the whole cluster no node can become
  // active before a quorum of them is unsealed. (ensureMember leaves uninitialized nodes alone without a leader.)
  for (const node of [seed, ...present.filter((n) => n !== seed)]) {
    await ensureMember(node, undefined, material, store.location, logger);
  }
  const active = await findActive(nodes, 60_000);
  for (const node of present) {
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
    () => waitForNodes(nodes, { timeoutMs: config.waitTimeoutMs, logger }),
    (hs) => ({
      nodes: hs.map((h, i) =>
        h
          ? { addr: nodes[i]!.addr, initialized: h.initialized, sealed: h.sealed, standby: h.standby }
          : { addr: nodes[i]!.addr, answered: false },
      ),
      version: hs.find((h) => h)?.version,
    }),
  );
  // The nodes that answered form the cluster now; the watch loop takes care of the others (waitForNodes).
  const present = nodes.filter((_, i) => healths[i] !== undefined);
  // An initialized node holds the cluster's keyring: it is the seed. None initialized: the first listed one.
  const initializedAt = healths.findIndex((h: HealthStatus | undefined) => h?.initialized);
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
    () => formCluster(nodes, present, seed, init.material, store, logger),
    (a) => ({ active: a.addr, nodes: nodes.length }),
  );
  const configured = await unsealAndConfigure(active, init.material, store, config, logger);
  announce(config, init.material, store, init.fresh, logger);
  return { nodes, store, material: init.material, fresh: init.fresh, configured, active };
}
