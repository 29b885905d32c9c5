/**
 * Steps 2 and 3: initialize a new Vault and persist its answer before anything else, or load the init
 * material of an initialized one. Never re-initializes, never deletes.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { VaultRequestError, VaultUnreachableError, type Logger, type VaultClient } from '@aurora/common';
import { critical, stopSignal } from './critical.js';
import { EXIT, InitMaterialError, InitMaterialNotSavedError, VaultInitError, waysOut } from './errors.js';
import { registerInitMaterial, type InitMaterial, type InitStore } from './init-store.js';

export interface InitOutcome {
  material: InitMaterial;
  /** True when this run initialized Vault. */
  fresh: boolean;
  /**
   * Milliseconds between Vault's answer to sys/init and the durable init file: the only moment a crash
   * leaves an initialized Vault without its keys.
   */
  unprotectedWindowMs?: number;
}

export async function ensureInitialized(
  client: VaultClient,
  store: InitStore,
  options: { initialized: boolean; shares: number; threshold: number; logger: Logger },
): Promise<InitOutcome> {
  const { logger } = options;
  if (options.initialized) return { material: await store.read(), fresh: false };

  // Before sys/init: once Vault has answered, a file we cannot write means keys that are lost.
  await store.preflight();
  if (await store.exists()) {
    throw new InitMaterialError(
      `Vault at ${client.addr} is NOT initialized, but ${store.location} exists: it belongs to a Vault whose storage is gone ` +
        '(or Vault now points at other storage). vault-init will not overwrite it, since it may be the only copy of those keys. ' +
        'If you want the old secrets, restore the Vault data (volume vault-data) that goes with this file; ' +
        `to start a new Vault instead, move ${store.location} somewhere safe first.`,
      store.location,
    );
  }

  logger.info('initializing Vault', { shares: options.shares, threshold: options.threshold });
  // From the request to the durable file: a stop waits for it to end (critical.ts); only a kill can cut it.
  const done = await critical(
    'the initialization, until init.json is durable',
    async () => {
      const requested = performance.now();
      let answer;
      try {
        answer = await client.initialize(options.shares, options.threshold);
      } catch (err) {
        // Someone else initialized it between our health check and now: theirs are the keys, not ours.
        if (err instanceof VaultRequestError && /already initialized/i.test(err.message)) return undefined;
        // No answer (a timeout, a dropped connection): Vault may have committed the initialization all the same,
        // and its answer was the only copy of the keys. Say so now, not only at the next start.
        if (err instanceof VaultUnreachableError)
          throw new VaultInitError(
            EXIT.unreachable,
            `${err.message}\nIt was asked to initialize: it may have done so without its answer reaching ` +
              'vault-init, and then its unseal keys exist nowhere. Start vault-init again: it initializes Vault if ' +
              'Vault is not initialized; if it is, vault-init stops with exit code 4 ("init file ... is missing").\n' +
              waysOut(store.location),
            { cause: err },
          );
        throw err;
      }
      const answered = performance.now();
      registerInitMaterial(answer);
      const material: InitMaterial = {
        keys: answer.keys,
        keys_base64: answer.keys_base64,
        root_token: answer.root_token,
        shares: options.shares,
        threshold: options.threshold,
        initialized_at: new Date().toISOString(),
      };
      await saveNewKeys(store, material, logger);
      return { material, requested, answered, persisted: performance.now() };
    },
    { untilDone: true },
  );
  if (!done) {
    logger.warn('Vault was initialized by someone else meanwhile; loading the init file');
    return { material: await store.read(), fresh: false };
  }
  const { material, requested, answered, persisted } = done;
  const unprotectedWindowMs = Math.round((persisted - answered) * 1000) / 1000;
  logger.info('init material persisted', {
    file: store.location,
    unprotectedWindowMs,
    initRequestMs: Math.round(answered - requested),
  });
  return { material, fresh: true, unprotectedWindowMs };
}

/**
 * Waits (ms) between attempts to save new keys: soon at first (a disk being cleared, an API server restarting),
 * then every 30 s for as long as it takes.
 */
const SAVE_RETRY_MS = [1_000, 2_000, 5_000, 10_000, 30_000];

/** The last failed attempt to save new keys, while vault-init holds them (health says so); undefined otherwise. */
let unsaved: { attempt: number; reason: string } | undefined;

/** While new keys wait to be saved: which attempt failed last, and why. Read by the health endpoint. */
export function unsavedKeys(): { attempt: number; reason: string } | undefined {
  return unsaved;
}

/**
 * Saves the init material Vault just returned. Vault's answer was the only copy of the keys, so a failed save is
 * not the end: vault-init holds them in memory and tries again, saying each time what failed and that a stop now
 * loses them, until a save succeeds. A stop (SIGTERM) cuts the wait short for one last attempt; when that fails
 * too, its error (the store's InitMaterialNotSavedError: the keys are lost, how to start over) ends vault-init.
 * Any other error is not about the save and ends it at once.
 */
async function saveNewKeys(store: InitStore, material: InitMaterial, logger: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await store.write(material);
      unsaved = undefined;
      if (attempt > 1) logger.info('init material saved after all', { file: store.location, attempts: attempt });
      return;
    } catch (err) {
      if (!(err instanceof InitMaterialNotSavedError) || stopSignal().aborted) throw err;
      unsaved = { attempt, reason: err.reason };
      const waitMs = SAVE_RETRY_MS[Math.min(attempt, SAVE_RETRY_MS.length) - 1] as number;
      logger.error(
        `Vault was just initialized but its keys could not be saved to ${store.location} (attempt ${attempt}): ` +
          `${err.reason}. vault-init holds them in memory only and tries again in ${waitMs / 1000} s: fix that and ` +
          'it saves them and carries on. Stopping vault-init before then loses them: no output holds them ' +
          '(vault-init masks them).',
      );
      // A stop ends the wait early: one last attempt, then the store's error says what was lost.
      await sleep(waitMs, undefined, { signal: stopSignal() }).catch(() => undefined);
    }
  }
}
