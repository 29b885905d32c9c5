/** Step 1: wait until Vault's API answers (sealed and uninitialized are answers too). */
import type { HealthStatus, Logger, VaultClient } from '@aurora/common';
import { EXIT, VaultInitError } from './errors.js';

export interface WaitOptions {
  timeoutMs: number;
  logger: Logger;
  /** Progress line cadence while Vault does not answer. */
  progressEveryMs?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitForVault(client: VaultClient, options: WaitOptions): Promise<HealthStatus> {
  const started = Date.now();
  const progressEvery = options.progressEveryMs ?? 5000;
  let delay = options.initialDelayMs ?? 100;
  const maxDelay = options.maxDelayMs ?? 2000;
  let lastProgress: number | undefined;
  let lastError: unknown;
  for (;;) {
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
          'Is it running and is VAULT_ADDR right? Check `docker logs vault` (native: .native/logs/vault.log).',
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
    await sleep(Math.max(0, Math.min(delay, options.timeoutMs - elapsed, untilProgress)));
    delay = Math.min(maxDelay, Math.round(delay * 1.5));
  }
}
