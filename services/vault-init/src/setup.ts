/**
 * Steps 1-7 in order, each logged once with its duration. main.ts calls this; tests call it directly.
 * Data flows one way: health → init material → unsealed → configured → banner.
 */
import { performance } from 'node:perf_hooks';
import {
  VaultClient,
  isBareInternalError,
  isRaftTransition,
  type Logger,
  type VaultRequestError,
} from '@aurora/common';
import type { VaultInitConfig } from './config.js';
import { configureVault, type ConfigureResult } from './configure/index.js';
import { printBanner } from './banner.js';
import { ensureInitialized } from './initialize.js';
import { createInitStore, type InitMaterial, type InitStore } from './init-store.js';
import { ROOT_SESSION_TTL, generateRootSession, revokeToken } from './root-access.js';
import { unseal, verifyRootToken, waitActive } from './unseal.js';
import { waitForVault } from './wait.js';

export interface SetupResult {
  client: VaultClient;
  store: InitStore;
  material: InitMaterial;
  fresh: boolean;
  configured: ConfigureResult;
}

/**
 * How long a step keeps retrying while Vault passes through a state that ends by itself, in ms: its Raft
 * cluster changing leaders (Vault's Raft defaults: a 1 s heartbeat timeout, elections within a few heartbeats),
 * or Vault refusing requests it cannot audit for the few seconds after a cut-off audit enable. A minute covers
 * a slow election on busy cores.
 */
export const PASSING_STATE_RETRY_MS = 60_000;

/** Retries between two progress lines while a step waits (10 s at one retry a second). */
const PROGRESS_EVERY = 10;

/** Why a failed step is worth running again, in words for the log; undefined when it is not. */
function passingState(err: unknown): string | undefined {
  if (isRaftTransition(err)) return "Vault's Raft cluster is changing leaders";
  if (isBareInternalError(err))
    return (
      'Vault answers 500 "internal error": it refuses requests it cannot audit (its audit log cannot be written: ' +
      'disk full? or an audit device was left half-enabled by a cut-off request, which passes within seconds)'
    );
  return undefined;
}

/**
 * Runs `fn`, then logs one line with the step's name and duration (and what `fields` says about the result).
 * While Vault answers only that it is in a passing state (its Raft cluster between leaders, just after a
 * restore or a failover; a bare 500 from an audit device that cannot write), the step runs again every
 * `intervalMs` (ms) for up to `retryMs` (ms), says so, then every ten retries how long it has waited: every
 * step is safe to repeat (unseal resubmits keys, configure is declarative, generate-root cancels an attempt it
 * finds). Any other error is thrown as is; a state that outlasts `retryMs` is thrown as an Error naming the
 * state, with Vault's answer in its message and as its cause.
 */
export async function step<T>(
  logger: Logger,
  name: string,
  fn: () => Promise<T>,
  fields?: (r: T) => Record<string, unknown>,
  retryMs = PASSING_STATE_RETRY_MS,
  intervalMs = 1000,
): Promise<T> {
  const started = performance.now();
  const deadline = Date.now() + retryMs;
  let retries = 0;
  let result: T;
  for (;;) {
    try {
      result = await fn();
      break;
    } catch (err) {
      const why = passingState(err);
      if (!why) throw err;
      if (Date.now() >= deadline)
        // Not a VaultInitError: the watch loop keeps treating Vault's state as passing, and looks again soon.
        throw new Error(
          `step ${name}: ${why}; it did not pass within ${retryMs / 1000} s. Vault's last answer: ${(err as Error).message}`,
          { cause: err },
        );
      if (retries === 0) {
        logger.warn(`step ${name}: ${why}; retrying for up to ${retryMs / 1000} s`, {
          step: name,
          vaultMessage: (err as VaultRequestError).vaultMessage,
        });
      } else if (retries % PROGRESS_EVERY === 0) {
        const waited = Math.round((performance.now() - started) / 1000);
        logger.warn(`step ${name}: still waiting, ${waited} s of ${retryMs / 1000} s: ${why}`, { step: name });
      }
      retries++;
      await new Promise<void>((resolve) => setTimeout(resolve, intervalMs));
    }
  }
  logger.info(`step ${name} done`, {
    step: name,
    durationMs: Math.round(performance.now() - started),
    ...(retries ? { retries } : {}),
    ...(fields?.(result) ?? {}),
  });
  return result;
}

export async function unsealAndConfigure(
  client: VaultClient,
  material: InitMaterial,
  store: InitStore,
  config: Readonly<VaultInitConfig>,
  logger: Logger,
): Promise<ConfigureResult> {
  await step(
    logger,
    'unseal',
    async () => {
      const outcome = await unseal(client, material, { initFile: store.location, logger });
      await waitActive(client);
      return outcome;
    },
    (o) => ({ keysSubmitted: o.keysSubmitted, alreadyUnsealed: !o.unsealed, discardedProgress: o.discardedProgress }),
  );
  const rootTokenValid = await step(
    logger,
    'verify-root-token',
    () => verifyRootToken(client, material, store.location, { allowRevoked: config.revokeRootToken }),
    (valid) => (config.revokeRootToken ? { valid } : {}),
  );
  // With VAULT_REVOKE_ROOT_TOKEN, a revoked root token is the normal case: root access comes from the keys.
  const session = rootTokenValid
    ? undefined
    : await step(
        logger,
        'generate-root',
        () => generateRootSession(client, material, store.location, logger),
        (s) => ({ keysUsed: s.keysUsed, ttl: ROOT_SESSION_TTL, cancelledPrevious: s.cancelledPrevious }),
      );
  const root = client.withToken(session?.token ?? material.root_token, 10_000);
  let configured: ConfigureResult;
  try {
    configured = await step(
      logger,
      'configure',
      () => configureVault(root, config),
      (r) => ({
        changed: Object.entries(r.changes)
          .filter(([, c]) => c !== 'unchanged')
          .map(([k, c]) => `${k}=${c}`),
      }),
    );
  } catch (err) {
    if (session) await revokeToken(client, session.token).catch(() => undefined);
    throw err;
  }
  for (const warning of configured.warnings) logger.warn(warning);
  if (config.revokeRootToken) {
    await step(
      logger,
      'revoke-root-token',
      () => revokeToken(client, session?.token ?? material.root_token),
      (result) => ({ which: session ? 'generated' : 'init-file', result }),
    );
  }
  return configured;
}

/** Step 7, the banner, for one node or a cluster: stdout only, never through the logger. */
export function announce(
  config: Readonly<VaultInitConfig>,
  material: InitMaterial,
  store: InitStore,
  fresh: boolean,
  logger: Logger,
): void {
  printBanner({
    rootToken: material.root_token,
    printRootToken: config.printRootToken,
    rootTokenRevoked: config.revokeRootToken,
    uiUrl: config.uiUrl,
    initFile: store.location,
    kvMount: config.kvMount,
    kvBasePath: config.kvBasePath,
    cliCommand: config.cliCommand,
    fresh,
  });
  logger.info('step banner done', {
    step: 'banner',
    durationMs: 0,
    rootTokenPrinted: config.printRootToken && !config.revokeRootToken,
    rootTokenRevoked: config.revokeRootToken,
  });
}

export async function setup(config: Readonly<VaultInitConfig>, logger: Logger): Promise<SetupResult> {
  const client = new VaultClient({ addr: config.vaultAddr, timeoutMs: 10_000 });
  const store = createInitStore(config);
  const health = await step(
    logger,
    'wait',
    () => waitForVault(client, { timeoutMs: config.waitTimeoutMs, logger }),
    (h) => ({ addr: client.addr, initialized: h.initialized, sealed: h.sealed, version: h.version }),
  );
  const init = await step(
    logger,
    health.initialized ? 'load-init-file' : 'initialize',
    () =>
      ensureInitialized(client, store, {
        initialized: health.initialized,
        shares: config.secretShares,
        threshold: config.secretThreshold,
        logger,
      }),
    (o) => ({ fresh: o.fresh, file: store.location }),
  );
  const configured = await unsealAndConfigure(client, init.material, store, config, logger);
  announce(config, init.material, store, init.fresh, logger);
  return { client, store, material: init.material, fresh: init.fresh, configured };
}
