/**
 * `npm run doctor -w services/app [-- --repair] [--json]` (compose: `docker compose exec app node dist/doctor-main.js`).
 * Same configuration as the app (env, .env). Exit codes: 0 no problems left, 1 problems remain,
 * 2 invalid configuration or usage, 3 Vault or PostgreSQL could not be checked.
 */
import 'dotenv/config';
import { AuroraError, ConfigError, createLogger } from '@aurora/common';
import { loadConfig } from './config.js';
import { createPool, isConnectionError } from './store/db.js';
import { VaultSession } from './vault/session.js';
import { formatReport, runDoctor } from './doctor.js';

const USAGE = 'usage: doctor [--repair] [--json]\n  lists dangling references and orphaned secrets; --repair fixes them; --json prints the report as JSON';

async function main(argv: string[]): Promise<number> {
  const repair = argv.includes('--repair');
  const json = argv.includes('--json');
  const unknown = argv.filter((a) => a !== '--repair' && a !== '--json');
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(`${USAGE}\n`); return 0; }
  if (unknown.length) { process.stderr.write(`doctor: unknown argument ${unknown[0]}\n${USAGE}\n`); return 2; }
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) { process.stderr.write(`doctor: ${err.message}\n`); return 2; }
    throw err;
  }
  const logger = createLogger('doctor', { level: process.env.LOG_LEVEL ?? 'warn' });
  const pool = createPool({ ...config.postgres, poolSize: 2 });
  const vault = new VaultSession({ ...config.vault, logger });
  try {
    const report = await runDoctor({ pool, vault, mount: config.vault.kvMount, base: config.vault.kvBasePath, repair });
    process.stdout.write(`${json ? JSON.stringify(report) : formatReport(report, repair)}\n`);
    return report.remaining > 0 ? 1 : 0;
  } catch (err) {
    const hint = err instanceof AuroraError ? '' : isConnectionError(err)
      ? ` (PostgreSQL at ${config.postgres.host}:${config.postgres.port}: is the stack running? make ps / make native)` : '';
    process.stderr.write(`doctor: could not check: ${(err as Error).message}${hint}\n`);
    return 3;
  } finally {
    vault.close();
    await pool.end().catch(() => undefined);
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
  process.stderr.write(`doctor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 3;
});
