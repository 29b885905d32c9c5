/**
 * The Raft storage endpoints (sys/storage/raft/*): snapshots, the peer set, autopilot, joining a node.
 * Snapshots are binary and may be large: they stream to and from files (binary.ts), never through memory.
 */
import type { VaultClient } from '../vault-client.js';
import { transferBinary } from './binary.js';
import { VAULT_SNAPSHOT_TIMEOUT_MS } from './timeouts.js';

export interface RaftServer {
  node_id: string;
  address: string;
  leader: boolean;
  voter: boolean;
}

/** sys/storage/raft/autopilot/state, the parts we read. */
export interface AutopilotState {
  healthy: boolean;
  failure_tolerance: number;
  leader: string;
  voters: string[];
  servers: Record<string, { id: string; name: string; address: string; status: string; healthy: boolean }>;
}

export class RaftApi {
  constructor(private readonly client: VaultClient) {}

  /** `vault operator raft snapshot save`: the snapshot, streamed into `destFile` (mode 0600). Needs root (sudo). */
  async snapshotSave(destFile: string): Promise<void> {
    await transferBinary(
      this.client.binaryEndpoint(),
      'GET',
      'sys/storage/raft/snapshot',
      { destFile },
      VAULT_SNAPSHOT_TIMEOUT_MS,
    );
  }

  /**
   * `vault operator raft snapshot restore [-force]`: uploads `file`. Vault applies it asynchronously after
   * answering; a standby redirects the upload to the active node, which is followed. `force` restores a snapshot
   * taken with other unseal keys (the cluster then seals and takes that snapshot's keys).
   */
  async snapshotRestore(file: string, options: { force?: boolean } = {}): Promise<void> {
    const path = `sys/storage/raft/snapshot${options.force ? '-force' : ''}`;
    await transferBinary(this.client.binaryEndpoint(), 'POST', path, { bodyFile: file }, VAULT_SNAPSHOT_TIMEOUT_MS);
  }

  /** The peer set as the active node knows it. */
  async configuration(): Promise<RaftServer[]> {
    const res = await this.client.read<{ data: { config: { servers: RaftServer[] } } }>(
      'sys/storage/raft/configuration',
    );
    return res.data.config.servers;
  }

  /** Autopilot's view of the cluster: health and failure tolerance. */
  async autopilotState(): Promise<AutopilotState> {
    const res = await this.client.read<{ data?: AutopilotState } & Partial<AutopilotState>>(
      'sys/storage/raft/autopilot/state',
    );
    return (res.data ?? res) as AutopilotState;
  }

  /** Joins this (uninitialized) node to the cluster whose active node is `leaderApiAddr`; true when joined. */
  async join(leaderApiAddr: string): Promise<boolean> {
    const res = await this.client.write<{ joined?: boolean }>(
      'sys/storage/raft/join',
      { leader_api_addr: leaderApiAddr },
      { timeoutMs: this.client.workTimeout() },
    );
    return res?.joined === true;
  }
}
