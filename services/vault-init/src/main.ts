/**
 * vault-init's entry point: parse config, run steps 1-7, then watch (default) or exit (`--once`).
 * Exit codes: see errors.ts and docs/vault.md.
 */
import type http from 'node:http';
import { ConfigError, createLogger, redactString } from '@aurora/common';
import { loadConfig, type VaultInitConfig } from './config.js';
import { STOP_DEADLINE_MS, drainCritical, isStopping, untilDeadline } from './critical.js';
import { EXIT, VaultInitError } from './errors.js';
import { HealthState, startHealthServer } from './health.js';
import { setupCluster } from './cluster.js';
import { setup } from './setup.js';
import { Watcher } from './watch.js';
import { OwnSession } from './own-session.js';
import { watchVaultForMetrics } from './metrics.js';

const logger = createLogger('vault-init');

/** A multi-line message for humans, next to the JSON log line (whose \n escapes make it hard to read). */
function explain(message: string): void {
  process.stderr.write(`\nvault-init: ${redactString(message)}\n\n`);
}

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    logger.error('invalid configuration', { problems: err.problems, exitCode: EXIT.config });
    explain(err.message);
    process.exit(EXIT.config);
  }
  if (err instanceof VaultInitError) {
    logger.error(err.message.split('\n')[0] ?? err.message, { exitCode: err.exitCode, kind: err.name });
    explain(err.message);
    process.exit(err.exitCode);
  }
  logger.error('unexpected failure', { err, exitCode: EXIT.unexpected });
  process.exit(EXIT.unexpected);
}

async function main(): Promise<void> {
  let config: Readonly<VaultInitConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    fail(err);
  }
  logger.info('starting', {
    mode: config.once ? 'once' : 'watch',
    ...(config.haAddrs.length ? { nodes: config.haAddrs } : { addr: config.vaultAddr }),
    initDir: config.initDir,
    pid: process.pid,
  });

  const state = new HealthState();
  const running: { server?: http.Server; watcher?: Watcher; own?: OwnSession } = {};
  const shutdown = async (signal: string) => {
    logger.info('stopping', { signal });
    const deadline = Date.now() + STOP_DEADLINE_MS;
    running.own?.stop();
    // What must not be cut (the init until init.json is durable, an audit device switch) ends first.
    const drained = await drainCritical(deadline, (what) =>
      logger.info('stopping: letting critical work finish first', { waitingFor: what }),
    );
    // The initialization failing while the stop waited ends the process with its own error and exit code.
    if (drained.failed !== undefined) fail(drained.failed);
    if (drained.unfinished.length || drained.alsoFailed.length)
      logger.warn('stopping before critical work finished: the next start finishes it', {
        ...(drained.unfinished.length ? { unfinished: drained.unfinished } : {}),
        ...(drained.alsoFailed.length ? { failed: drained.alsoFailed } : {}),
      });
    await untilDeadline(running.watcher?.stop(), deadline);
    running.server?.close();
    process.exit(EXIT.ok);
  };
  // One handler for both signals, kept: a second Ctrl-C must not fall back to the default action and cut the
  // critical work the first one waits for. SIGKILL still forces it.
  let stop: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop) {
      logger.warn('already stopping (SIGKILL forces it)', { signal });
      return;
    }
    stop = shutdown(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  if (!config.once) {
    // Up before setup, so the healthcheck gets a clear 503 ("not yet") rather than a refused connection.
    try {
      running.server = await startHealthServer(config.healthPort, state, logger, config.healthHost);
      watchVaultForMetrics(config);
    } catch (err) {
      fail(
        new VaultInitError(
          EXIT.config,
          `cannot serve health on ${config.healthHost}:${config.healthPort}: ${(err as Error).message}; set VAULT_INIT_HEALTH_PORT to a free port`,
        ),
      );
    }
  }

  // VAULT_HA_ADDRS: a Raft cluster (cluster.ts); otherwise one Vault at VAULT_ADDR (setup.ts). One watcher for both.
  const result =
    config.haAddrs.length > 0
      ? await setupCluster(config, logger)
      : await setup(config, logger).then((r) => ({ ...r, nodes: [r.client] }));
  state.unsealed = true;
  state.configured = true;
  if (isStopping()) return; // the stop's handler ends the process
  if (config.once) {
    logger.info('done (--once)');
    process.exit(EXIT.ok);
  }
  running.watcher = new Watcher({
    nodes: result.nodes,
    material: result.material,
    store: result.store,
    config,
    logger,
    state,
    operatorToken: result.configured.operatorToken,
  });
  await running.watcher.start();
  if (isStopping()) return;
  logger.info('watching the seal status', {
    intervalMs: config.watchIntervalMs,
    healthPort: config.healthPort,
    nodes: result.nodes.length,
  });
  // Its own token, the authenticated probe and audit log rotation: the work between configure runs.
  running.own = new OwnSession(config, logger);
  await running.own.start();
}

main().catch((err: unknown) => {
  // Once a stop began, its handler ends the process and decides how: what fails meanwhile is refused or cut
  // work (the next start finishes it), or the initialization, whose failure the handler reports itself.
  if (isStopping()) return;
  fail(err);
});
