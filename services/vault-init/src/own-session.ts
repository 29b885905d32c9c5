/**
 * vault-init between configure runs: its own token (configure/own-token.ts) kept alive by the shared lifetime
 * watcher, an authenticated probe for its health, and audit log rotation, all through the node that answers
 * (one Vault, or the first reachable node of a cluster: standbys forward to the active node).
 */
import {
  LifetimeWatcher,
  TokenLifetime,
  VaultClient,
  VaultRefusingError,
  VaultUnreachableError,
  diagnoseVaultError,
  type LifetimeState,
  type LoginResult,
  type Logger,
} from '@aurora/common';
import type { VaultInitConfig } from './config.js';
import { readOwnToken } from './configure/own-token.js';
import { setProbeResult } from './authenticated-probe.js';
import { AuditRotation } from './audit-rotation.js';

export class OwnSession {
  private readonly nodes: VaultClient[];
  private current = 0;
  readonly watcher: LifetimeWatcher;
  private readonly rotation: AuditRotation;
  private probeTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly config: Readonly<VaultInitConfig>,
    private readonly logger: Logger,
  ) {
    const addrs = config.haAddrs.length ? config.haAddrs : [config.vaultAddr];
    this.nodes = addrs.map((addr) => new VaultClient({ addr, timeoutMs: 10_000 }));
    const source = new TokenLifetime(
      () => this.client,
      "vault-init's own token",
      () => this.fromFile(),
      (token) => {
        for (const n of this.nodes) n.token = token;
      },
    );
    this.watcher = new LifetimeWatcher(source, { logger });
    this.rotation = new AuditRotation(config, logger, (fn) => this.run(fn));
  }

  get client(): VaultClient {
    return this.nodes[this.current]!;
  }

  /** Starts the watcher, the probe loop and the rotation loop; never throws (failures are retried and logged). */
  async start(): Promise<void> {
    await this.watcher.start().catch(() => undefined);
    this.rotation.start();
    const probe = async () => {
      if (this.stopped) return;
      await this.probe();
      this.probeTimer = setTimeout(() => void probe(), this.config.watchIntervalMs * 5);
      this.probeTimer.unref();
    };
    await probe();
  }

  /** Stops the token watcher, the probes and the audit rotation (a switch in flight is waited for by critical.ts). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.probeTimer);
    this.watcher.stop();
    this.rotation.stop();
  }

  /** The token's lifetime (for logs and health). */
  tokenState(): LifetimeState {
    return this.watcher.state();
  }

  /**
   * Runs `fn` with the node in use; an unreachable node makes it try the next one, once round the list. A 500
   * from a healthy active node becomes a `VaultRefusingError` that names the likely cause.
   */
  async run<T>(fn: (client: VaultClient) => Promise<T>): Promise<T> {
    let lastErr: unknown;
    for (let i = 0; i < this.nodes.length; i++) {
      const client = this.client;
      try {
        return await fn(client);
      } catch (err) {
        lastErr = err;
        if (!(err instanceof VaultUnreachableError) || this.nodes.length === 1) break;
        this.current = (this.current + 1) % this.nodes.length;
      }
    }
    throw await diagnoseVaultError(this.client, lastErr);
  }

  /** One authenticated call (lookup-self, audited like any request); its outcome feeds vault-init's health. */
  async probe(): Promise<void> {
    try {
      await this.run((c) => c.lookupSelf());
      setProbeResult({ ok: true, detail: 'ok' });
    } catch (err) {
      const refusing = err instanceof VaultRefusingError;
      const detail = refusing ? err.diagnosis : (err as Error).message;
      // Only a Vault that refuses service makes vault-init unhealthy here: sealed and unreachable are the seal
      // watcher's business, and a token problem is repaired by the next configure.
      setProbeResult({ ok: !refusing, detail });
      if (refusing) this.logger.error(`authenticated probe failed: ${detail}`, { err });
    }
  }

  /** A "login": the token configure wrote, looked up. */
  private async fromFile(): Promise<LoginResult> {
    const token = await readOwnToken(this.config.initDir);
    if (!token)
      throw new Error(`no token in ${this.config.initDir}/vault-init-token yet: the next configure run writes it`);
    const info = await this.run((c) => c.withToken(token).lookupSelf());
    return { token, leaseDuration: info.ttl, renewable: info.renewable, policies: info.policies };
  }
}
