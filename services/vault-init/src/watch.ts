/**
 * Step 8, watch mode: check the seal status every interval; when Vault comes back sealed (restart, kill -9)
 * unseal it and run configure again (cheap, and it repairs drift). Keeps the operator token alive.
 * Problems are logged when they start and when they end, not on every tick.
 */
import { performance } from 'node:perf_hooks';
import {
  VaultForbiddenError,
  VaultRequestError,
  VaultUnreachableError,
  type Logger,
  type VaultClient,
} from '@aurora/common';
import { VaultInitError } from './errors.js';
import type { VaultInitConfig } from './config.js';
import { renewOperatorToken } from './configure/operator-token.js';
import type { HealthState } from './health.js';
import type { InitMaterial, InitStore } from './init-store.js';
import { unsealAndConfigure } from './setup.js';

/** While Vault is down or restarting, look again sooner: it is usually back within a second. */
const RETRY_TRANSIENT_MS = 200;
/** Other failures (a conflict, an unwritable volume) need a human: back off so the audit log does not fill up. */
const MAX_BACKOFF_MS = 30_000;
const OPERATOR_RENEW_EVERY_MS = 60 * 60 * 1000;

type TickResult = 'ok' | 'transient' | 'failed';

/** Problems that only a human can fix, as opposed to Vault being down, sealed or restarting. */
function needsHuman(err: unknown): boolean {
  return (
    err instanceof VaultInitError ||
    err instanceof VaultForbiddenError ||
    (err instanceof VaultRequestError && err.vaultStatus < 500)
  );
}

export interface WatchOptions {
  client: VaultClient;
  material: InitMaterial;
  store: InitStore;
  config: Readonly<VaultInitConfig>;
  logger: Logger;
  state: HealthState;
  operatorToken: string;
}

export class Watcher {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private running?: Promise<void>;
  private problem?: string;
  private lastRenew = Date.now();
  private operatorToken: string;
  private failures = 0;

  constructor(private readonly o: WatchOptions) {
    this.operatorToken = o.operatorToken;
  }

  start(): void {
    this.schedule(this.o.config.watchIntervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().then((result) => this.schedule(this.nextDelay(result)));
    }, ms);
  }

  private nextDelay(result: TickResult): number {
    const interval = this.o.config.watchIntervalMs;
    if (result === 'ok') {
      this.failures = 0;
      return interval;
    }
    if (result === 'transient') {
      this.failures = 0;
      return Math.min(RETRY_TRANSIENT_MS, interval);
    }
    this.failures += 1;
    return Math.min(MAX_BACKOFF_MS, interval * 2 ** (this.failures - 1));
  }

  /** One check. Never throws. */
  async tick(): Promise<TickResult> {
    const { client, state, logger } = this.o;
    try {
      const status = await client.sealStatus();
      if (!status.initialized) {
        state.unsealed = false;
        state.configured = false;
        this.report(
          `Vault at ${client.addr} is no longer initialized (its storage was replaced?). vault-init will not initialize it again ` +
            `while ${this.o.store.location} exists; restore Vault's data, or run \`make prod-local-clean\` to start over (destroys all secrets).`,
        );
        return 'failed';
      }
      if (status.sealed || !state.configured) {
        const started = performance.now();
        if (status.sealed) {
          state.unsealed = false;
          state.configured = false;
          logger.warn('Vault is sealed (restarted?): unsealing');
        }
        const result = await unsealAndConfigure(client, this.o.material, this.o.store, this.o.config, logger);
        this.operatorToken = result.operatorToken;
        this.lastRenew = Date.now();
        state.unsealed = true;
        state.configured = true;
        logger.info('Vault unsealed and configured', { durationMs: Math.round(performance.now() - started) });
      }
      state.unsealed = true;
      if (Date.now() - this.lastRenew >= OPERATOR_RENEW_EVERY_MS) {
        // renew-self with the operator token itself: no root token needed (it may be revoked).
        if (await renewOperatorToken(client, this.operatorToken)) this.lastRenew = Date.now();
        else state.configured = false; // the next tick's configure writes a new one
      }
      this.recovered();
      return 'ok';
    } catch (err) {
      const unreachable = err instanceof VaultUnreachableError;
      if (unreachable) {
        state.unsealed = false;
        state.configured = false;
      }
      this.report(err instanceof Error ? err.message : String(err), err);
      return needsHuman(err) ? 'failed' : 'transient';
    }
  }

  private report(message: string, err?: unknown): void {
    if (this.problem === message) return;
    this.problem = message;
    this.o.logger.error(message, err === undefined ? {} : { err });
  }

  private recovered(): void {
    if (this.problem === undefined) return;
    this.o.logger.info('recovered', { previousProblem: this.problem });
    this.problem = undefined;
  }
}
