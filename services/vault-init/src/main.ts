/**
 * vault-init's entry point: parse config, run steps 1-7, then watch (default) or exit (`--once`).
 * Exit codes: see errors.ts and docs/vault.md.
 */
import type http from 'node:http';
import { ConfigError, createLogger, redactString } from '@aurora/common';
import { loadConfig, type VaultInitConfig } from './config.js';
import { EXIT, VaultInitError } from './errors.js';
import { HealthState, startHealthServer } from './health.js';
import { ClusterWatcher, setupCluster } from './cluster.js';
import { setup } from './setup.js';
import { Watcher } from './watch.js';
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
  const running: { server?: http.Server; watcher?: Watcher | ClusterWatcher } = {};
  const shutdown = async (signal: string) => {
    logger.info('stopping', { signal });
    await running.watcher?.stop();
    running.server?.close();
    process.exit(EXIT.ok);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

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

  if (config.haAddrs.length > 0) {
    // VAULT_HA_ADDRS: a Raft cluster (cluster.ts); the single-node flow below is untouched.
    const result = await setupCluster(config, logger);
    state.unsealed = true;
    state.configured = true;
    if (config.once) {
      logger.info('done (--once)');
      process.exit(EXIT.ok);
    }
    running.watcher = new ClusterWatcher({
      ...result,
      config,
      logger,
      state,
      operatorToken: result.configured.operatorToken,
    });
    running.watcher.start();
    logger.info('watching the seal status', {
      intervalMs: config.watchIntervalMs,
      healthPort: config.healthPort,
      nodes: config.haAddrs.length,
    });
    return;
  }
  const result = await setup(config, logger);
  state.unsealed = true;
  state.configured = true;
  if (config.once) {
    logger.info('done (--once)');
    process.exit(EXIT.ok);
  }
  running.watcher = new Watcher({ ...result, config, logger, state, operatorToken: result.configured.operatorToken });
  running.watcher.start();
  logger.info('watching the seal status', { intervalMs: config.watchIntervalMs, healthPort: config.healthPort });
}

main().catch(fail);
