/** Step 1: wait until Vault's API answers (sealed and uninitialized are answers too). */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthStatus, Logger, VaultClient } from '@aurora/common';
import { EXIT, VaultInitError } from './errors.js';

export interface WaitOptions {
  timeoutMs: number;
  logger: Logger;
  /** Progress line cadence while Vault does not answer. */
  progressEveryMs?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Stops the wait (it then rejects with the signal's reason): nobody needs the answer any more. */
  signal?: AbortSignal;
  /**
   * waitForNodes: how long (ms) the other nodes still get once a majority of an initialized cluster answers. A
   * node that runs answers within seconds even on a busy machine; one that is down would hold up the others.
   */
  stragglersGraceMs?: number;
}

/** The container to read when the Vault at `addr` does not answer: its compose service is its host name. */
function logHint(addr: string): string {
  const host = new URL(addr).hostname;
  const service = host === '127.0.0.1' || host === 'localhost' || host === '::1' ? 'vault' : host;
  return `Check \`docker logs ${service}\` (native: .native/logs/vault.log).`;
}

export async function waitForVault(client: VaultClient, options: WaitOptions): Promise<HealthStatus> {
  const started = Date.now();
  const progressEvery = options.progressEveryMs ?? 5000;
  let delay = options.initialDelayMs ?? 100;
  const maxDelay = options.maxDelayMs ?? 2000;
  let lastProgress: number | undefined;
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      return await client.health();
    } catch (err) {
      lastError = err;
    }
    const elapsed = Date.now() - started;
    if (elapsed >= options.timeoutMs) {
      const reason =
        (lastError as { cause?: { code?: string; message?: string } })?.cause?.code ?? (lastError as Error)?.message;
      throw new VaultInitError(
        EXIT.unreachable,
        `Vault at ${client.addr} did not answer within ${Math.round(elapsed / 1000)} s (last error: ${reason}). ` +
          `Is it running and is VAULT_ADDR right? ${logHint(client.addr)}`,
        { cause: lastError },
      );
    }
    if (lastProgress === undefined) {
      lastProgress = Date.now();
      options.logger.info(`waiting for Vault at ${client.addr}`, { timeoutMs: options.timeoutMs });
    } else if (Date.now() - lastProgress >= progressEvery) {
      lastProgress = Date.now();
      options.logger.info(`still waiting for Vault at ${client.addr}`, {
        elapsedMs: elapsed,
        timeoutMs: options.timeoutMs,
      });
    }
    // Bounded exponential backoff: quick when Vault is a moment away, gentle when it is down for long;
    // never sleeping past the deadline or the next progress line.
    const untilProgress = lastProgress + progressEvery - Date.now();
    await sleep(Math.max(0, Math.min(delay, options.timeoutMs - elapsed, untilProgress)), undefined, {
      signal: options.signal,
    });
    delay = Math.min(maxDelay, Math.round(delay * 1.5));
  }
}

/**
 * Step 1 on Raft storage: waits until the cluster can be set up, and resolves with each node's health, undefined
 * for a node that has not answered.
 *  - Every node answers: done.
 *  - A majority answers and one of them is initialized: the others get `stragglersGraceMs` more, then it is done
 *    without them. A cluster that was initialized comes up on a majority, and the watch loop unseals (or joins)
 *    the others when they come back; waiting for a node that is down would keep the whole cluster sealed.
 *  - No answering node is initialized: wait for every node. A node that is down may hold the cluster's keyring,
 *    and initializing beside it would make a second cluster.
 * Rejects as waitForVault does when a node that is still needed does not answer within `timeoutMs`.
 */
export async function waitForNodes(
  clients: readonly VaultClient[],
  options: WaitOptions,
): Promise<Array<HealthStatus | undefined>> {
  const answers: Array<HealthStatus | undefined> = clients.map(() => undefined);
  const majority = Math.floor(clients.length / 2) + 1;
  const stop = new AbortController();
  const graceMs = options.stragglersGraceMs ?? 10_000;
  let graceTimer: NodeJS.Timeout | undefined;
  return new Promise((resolve, reject) => {
    const settle = (finish: () => void) => {
      if (stop.signal.aborted) return;
      stop.abort();
      clearTimeout(graceTimer);
      finish();
    };
    const check = () => {
      if (stop.signal.aborted) return;
      const answered = answers.filter((h) => h !== undefined);
      if (answered.length === clients.length) return settle(() => resolve(answers));
      if (!graceTimer && answered.length >= majority && answered.some((h) => h.initialized)) {
        graceTimer = setTimeout(() => {
          if (stop.signal.aborted) return;
          const missing = clients.filter((_, i) => answers[i] === undefined).map((c) => c.addr);
          options.logger.warn(
            'going on without the nodes that do not answer: a majority of an initialized cluster does; they are ' +
              'unsealed (or joined) when they come back',
            { missing, waitedMs: graceMs },
          );
          settle(() => resolve([...answers]));
        }, graceMs);
      }
    };
    clients.forEach((client, i) => {
      waitForVault(client, { ...options, signal: stop.signal }).then(
        (h) => {
          answers[i] = h;
          check();
        },
        (err: unknown) => settle(() => reject(err)),
      );
    });
  });
}
