/**
 * Raft autopilot, Vault's own view of a cluster on integrated storage (sys/storage/raft/autopilot/state): whether
 * it is healthy, which servers vote, and how many it can lose (failure tolerance). vault-init's health on Raft
 * storage means what autopilot says, with every configured node a voter: a node that has joined but does not vote
 * yet (autopilot promotes it after `server_stabilization_time`) adds nothing to surviving the loss of the leader.
 */
import type { VaultClient } from '@aurora/common';

/** One server as autopilot reports it (only the fields read here). */
interface AutopilotServer {
  id: string;
  name?: string;
  node_status?: string;
  healthy?: boolean;
  status?: string;
  last_contact?: string;
}

interface AutopilotState {
  healthy: boolean;
  failure_tolerance: number;
  leader?: string;
  voters?: string[] | null;
  servers?: Record<string, AutopilotServer> | null;
}

/** What vault-init's health reports about Raft (JSON field names as served by GET /health). */
export interface RaftReadiness {
  /** Autopilot healthy, `voters` = `nodes`, `failureTolerance` = ⌊(nodes − 1) / 2⌋. */
  ready: boolean;
  voters: number;
  nodes: number;
  failureTolerance: number;
  /** What is missing, in words; absent when ready. */
  waitingFor?: string;
}

/** How many nodes a cluster of `nodes` voters can lose and keep a quorum: ⌊(nodes − 1) / 2⌋ (Raft). */
export function wantedFailureTolerance(nodes: number): number {
  return Math.floor((nodes - 1) / 2);
}

/**
 * Reads autopilot's state through `client` (any node: a standby forwards it; the token needs `read` on
 * sys/storage/raft/autopilot/state, which the aurora-operator policy grants) and judges it against `nodes`,
 * the number of configured nodes.
 */
export async function raftReadiness(client: VaultClient, nodes: number): Promise<RaftReadiness> {
  const raw = await client.read<{ data?: AutopilotState } & Partial<AutopilotState>>(
    'sys/storage/raft/autopilot/state',
  );
  return judge((raw.data ?? raw) as AutopilotState, nodes);
}

/** The verdict on one autopilot state; exported for its unit test. */
export function judge(state: AutopilotState, nodes: number): RaftReadiness {
  const servers = Object.values(state.servers ?? {});
  const voterIds = new Set(state.voters ?? servers.filter((s) => isVoter(s)).map((s) => s.id));
  const voters = voterIds.size;
  const failureTolerance = state.failure_tolerance ?? 0;
  const wanted = wantedFailureTolerance(nodes);
  const name = (s: AutopilotServer) => s.name || s.id;
  const missing: string[] = [];
  if (servers.length < nodes) missing.push(`${nodes - servers.length} of ${nodes} nodes to join the Raft cluster`);
  const nonVoters = servers.filter((s) => !voterIds.has(s.id) && s.node_status !== 'left');
  if (nonVoters.length > 0)
    missing.push(
      `${nonVoters.map(name).join(', ')} to become voter${nonVoters.length > 1 ? 's' : ''} ` +
        '(autopilot promotes a node once it has been healthy for server_stabilization_time)',
    );
  const unhealthy = servers.filter((s) => s.healthy === false);
  if (unhealthy.length > 0)
    missing.push(
      `${unhealthy.map((s) => `${name(s)} (${s.node_status ?? 'unknown'}, last contact ${s.last_contact ?? '?'})`).join(', ')} ` +
        'to be healthy',
    );
  if (missing.length === 0 && !state.healthy) missing.push('autopilot to report the cluster healthy');
  if (missing.length === 0 && failureTolerance < wanted)
    missing.push(`a failure tolerance of ${wanted} (autopilot says ${failureTolerance})`);
  const ready = state.healthy && voters === nodes && failureTolerance >= wanted && missing.length === 0;
  return {
    ready,
    voters,
    nodes,
    failureTolerance,
    ...(ready ? {} : { waitingFor: `${voters} of ${nodes} nodes vote; waiting for ${missing.join('; ')}` }),
  };
}

function isVoter(s: AutopilotServer): boolean {
  return s.status === 'leader' || s.status === 'voter';
}

/**
 * Desired autopilot configuration: `serverStabilizationTime` (a Vault duration, e.g. "2s") when set, otherwise
 * Vault's default is left alone. Only on Raft storage (other storage has no autopilot). `client` holds a root
 * token. Returns what it did, as the other configure steps do.
 */
export async function ensureAutopilotConfig(
  client: VaultClient,
  serverStabilizationTime: string | undefined,
): Promise<'unchanged' | 'updated'> {
  if (!serverStabilizationTime) return 'unchanged';
  const status = await client.read<{ storage_type?: string }>('sys/seal-status');
  if (status.storage_type !== 'raft') return 'unchanged';
  const raw = await client.read<{ data?: { server_stabilization_time?: string } }>(
    'sys/storage/raft/autopilot/configuration',
  );
  const actual = raw.data?.server_stabilization_time;
  if (actual !== undefined && sameDuration(actual, serverStabilizationTime)) return 'unchanged';
  await client.write('sys/storage/raft/autopilot/configuration', {
    server_stabilization_time: serverStabilizationTime,
  });
  return 'updated';
}

/** Vault answers durations as Go prints them ("2s", "1m30s"); compare them in seconds. */
function sameDuration(a: string, b: string): boolean {
  const seconds = (d: string) => {
    let total = 0;
    for (const [, n, unit] of d.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g))
      total += Number(n) * ({ h: 3600, m: 60, s: 1, ms: 0.001 } as Record<string, number>)[unit!]!;
    return total;
  };
  return seconds(a) === seconds(b);
}
