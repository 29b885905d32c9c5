/**
 * The one unseal routine: vault-init (a single Vault or every node of a Raft cluster) and the operations
 * scripts (a stack without vault-init) all unseal through it.
 *
 * Vault's Shamir unseal (sys/unseal): each call adds one key share; at the threshold Vault either unseals, or
 * rejects the shares (400, "message authentication failed"), or — a Raft node that is joining a cluster — answers
 * sealed with progress 0, uses the shares to answer the leader's challenge and unseals by itself a moment later.
 * So exactly the threshold is submitted, then, if still sealed, the routine waits for that.
 */
import { VaultRequestError } from './errors.js';
import type { SealStatus, VaultClient } from './vault-client.js';

export interface UnsealOutcome {
  /** False when Vault was already unsealed (nothing was submitted). */
  unsealed: boolean;
  keysSubmitted: number;
  /** Key shares someone else had submitted, discarded before ours (sys/unseal reset). */
  discardedProgress: number;
}

export interface UnsealOptions {
  /** Used when Vault does not report its threshold (t = 0, a node that has not joined its cluster yet). */
  threshold?: number;
  /** Called before partial progress left by another client is discarded. */
  onDiscardProgress?: (progress: number, threshold: number) => void;
  /** How long a joining Raft node may stay sealed after the threshold was submitted (ms, default 60 000). */
  settleTimeoutMs?: number;
}

/**
 * The key shares cannot unseal this Vault: too few for its threshold (`have` < `needed`), or refused by it
 * (`vaultSaid` holds Vault's reason). Either way they belong to another Vault, or were altered.
 */
export class UnsealKeysError extends Error {
  constructor(
    readonly addr: string,
    readonly have: number,
    readonly needed: number,
    readonly vaultSaid?: string,
    options?: { cause?: unknown },
  ) {
    super(
      vaultSaid === undefined
        ? `Vault at ${addr} needs ${needed} unseal key(s) and only ${have} were given`
        : `Vault at ${addr} rejected the unseal keys (Vault said: ${vaultSaid})`,
      options,
    );
    this.name = 'UnsealKeysError';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Unseals the Vault behind `client` with `keys` (base64 key shares): nothing when it is unsealed already; partial
 * progress left by another client is discarded first, since a wrong share there would fail our attempt too.
 * Throws UnsealKeysError when the keys cannot do it, Vault's own error types (unreachable, sealed, 5xx) otherwise,
 * and an Error when a joining node stays sealed longer than `settleTimeoutMs`. Never puts a key into an error.
 */
export async function unsealVault(
  client: VaultClient,
  keys: readonly string[],
  options: UnsealOptions = {},
): Promise<UnsealOutcome> {
  let status: SealStatus = await client.sealStatus();
  if (!status.sealed) return { unsealed: false, keysSubmitted: 0, discardedProgress: 0 };

  const discardedProgress = status.progress;
  if (status.progress > 0) {
    options.onDiscardProgress?.(status.progress, status.t);
    status = await client.unsealReset();
  }
  const needed = status.t > 0 ? status.t : (options.threshold ?? keys.length);
  if (keys.length < needed) throw new UnsealKeysError(client.addr, keys.length, needed);

  let submitted = 0;
  for (const key of keys.slice(0, needed)) {
    try {
      status = await client.unseal(key);
    } catch (err) {
      if (
        err instanceof VaultRequestError &&
        (err.vaultStatus < 500 || /authentication failed|invalid key|unseal/i.test(err.message))
      ) {
        await client.unsealReset().catch(() => undefined);
        const said = err.message.replace(/^.*?: /, '').replace(/\s+/g, ' ');
        throw new UnsealKeysError(client.addr, keys.length, needed, said, { cause: err });
      }
      throw err;
    }
    submitted += 1;
    if (!status.sealed) break;
  }
  if (status.sealed) await settle(client, options.settleTimeoutMs ?? 60_000);
  return { unsealed: true, keysSubmitted: submitted, discardedProgress };
}

/** A joining Raft node unseals by itself once the leader accepted its answer; anything else is an error. */
async function settle(client: VaultClient, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await client.sealStatus();
    if (!status.sealed) return;
    if (Date.now() > deadline) {
      await client.unsealReset().catch(() => undefined);
      throw new Error(
        `Vault at ${client.addr} was still sealed ${timeoutMs} ms after the threshold of unseal keys was accepted ` +
          "(a Raft node that cannot reach its cluster's leader stays sealed: see the node's log)",
      );
    }
    await sleep(100);
  }
}
