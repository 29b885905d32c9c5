/**
 * Whether a -force Raft snapshot restore has reached every node: each node seals itself once it has dropped the
 * old keyring, and only when all of them have is the restore applied. An empty list of nodes proves nothing (a
 * compose project without vault-1..3, say): it is never "every node sealed".
 */
import type { RaftNodeSeal } from './stack-target.js';

/** `applied`: at least one node answered and every node answered sealed; `waiting`: for a progress line. */
export interface RaftSealProgress {
  applied: boolean;
  waiting: string;
}

/** Reads the nodes' own seal answers (StackTarget.raftNodeSealStatuses); undefined `sealed` is no answer. */
export function raftSealProgress(nodes: readonly RaftNodeSeal[]): RaftSealProgress {
  if (nodes.length === 0) return { applied: false, waiting: 'no Raft node is known to ask' };
  const open = nodes.filter((n) => n.sealed !== true);
  if (open.length === 0) return { applied: true, waiting: `all ${nodes.length} nodes sealed` };
  return {
    applied: false,
    waiting: `${nodes.length - open.length} of ${nodes.length} nodes sealed; waiting for ${open
      .map((n) => `${n.node} (${n.sealed === undefined ? 'no answer' : 'unsealed'})`)
      .join(', ')}`,
  };
}
