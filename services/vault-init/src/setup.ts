/**
 * Steps 1-7 in order, each logged once with its duration. main.ts calls this; tests call it directly.
 * Data flows one way: health → init material → unsealed → configured → banner.
 */
import { performance } from 'node:perf_hooks';
import { VaultClient, type Logger } from '@aurora/common';
import type { VaultInitConfig } from './config.js';
import { configureVault, type ConfigureResult } from './configure/index.js';
import { printBanner } from './banner.js';
import { ensureInitialized } from './initialize.js';
import { FileInitStore, type InitMaterial, type InitStore } from './init-store.js';
import { unseal, verifyRootToken, waitActive } from './unseal.js';
import { waitForVault } from './wait.js';

export interface SetupResult {
  client: VaultClient;
  store: InitStore;
  material: InitMaterial;
  fresh: boolean;
  configured: ConfigureResult;
}

/** Runs `fn`, then logs one line with the step's name and duration (and what `fields` says about the result). */
export async function step<T>(logger: Logger, name: string, fn: () => Promise<T>, fields?: (r: T) => Record<string, unknown>): Promise<T> {
  const started = performance.now();
  const result = await fn();
  logger.info(`step ${name} done`, { step: name, durationMs: Math.round(performance.now() - started), ...(fields?.(result) ?? {}) });
  return result;
}

export async function unsealAndConfigure(client: VaultClient, material: InitMaterial, store: InitStore, config: Readonly<VaultInitConfig>, logger: Logger): Promise<ConfigureResult> {
  await step(logger, 'unseal', async () => {
    const outcome = await unseal(client, material, { initFile: store.location, logger });
    await waitActive(client);
    return outcome;
  }, (o) => ({ keysSubmitted: o.keysSubmitted, alreadyUnsealed: !o.unsealed, discardedProgress: o.discardedProgress }));
  await step(logger, 'verify-root-token', () => verifyRootToken(client, material, store.location));
  const root = client.withToken(material.root_token, 10_000);
  return step(logger, 'configure', () => configureVault(root, config), (r) => ({
    changed: Object.entries(r.changes).filter(([, c]) => c !== 'unchanged').map(([k, c]) => `${k}=${c}`),
  }));
}

export async function setup(config: Readonly<VaultInitConfig>, logger: Logger): Promise<SetupResult> {
  const client = new VaultClient({ addr: config.vaultAddr, timeoutMs: 10_000 });
  const store = new FileInitStore(config.initDir);
  const health = await step(logger, 'wait', () => waitForVault(client, { timeoutMs: config.waitTimeoutMs, logger }),
    (h) => ({ addr: client.addr, initialized: h.initialized, sealed: h.sealed, version: h.version }));
  const init = await step(logger, health.initialized ? 'load-init-file' : 'initialize',
    () => ensureInitialized(client, store, { initialized: health.initialized, shares: config.secretShares, threshold: config.secretThreshold, logger }),
    (o) => ({ fresh: o.fresh, file: store.location }));
  const configured = await unsealAndConfigure(client, init.material, store, config, logger);
  printBanner({
    rootToken: init.material.root_token,
    printRootToken: config.printRootToken,
    uiUrl: config.uiUrl,
    initFile: store.location,
    kvMount: config.kvMount,
    kvBasePath: config.kvBasePath,
    cliCommand: config.cliCommand,
    fresh: init.fresh,
  });
  logger.info('step banner done', { step: 'banner', durationMs: 0, rootTokenPrinted: config.printRootToken });
  return { client, store, material: init.material, fresh: init.fresh, configured };
}
