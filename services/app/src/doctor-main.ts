/**
 * `npm run doctor -w services/app [-- --repair [--destroy-recoverable]] [--json]` (compose: `docker compose exec
 * app node dist/doctor-main.js`).
 * Same configuration as the app (env, .env). Exit codes: 0 no problems left, 1 problems remain,
 * 2 invalid configuration or usage, 3 Vault or PostgreSQL could not be checked.
 *
 * `doctor --torn-files [--json]` reads the paths of Vault's storage files on stdin (`find <storage dir> -type f`)
 * and lists those a crash left half written (torn-files.ts); it needs neither Vault nor PostgreSQL. Exit codes:
 * 0 none, 1 some to remove, 2 usage.
 */
import 'dotenv/config';
import fs from 'node:fs';
import { AuroraError, ConfigError, createLogger } from '@aurora/common';
import { loadConfig } from './config.js';
import { createPool, isConnectionError, type Db } from './store/db.js';
import { withLeasedUser } from './store/vault-credentials.js';
import { VaultSession } from './vault/session.js';
import { formatReport, runDoctor } from './doctor.js';
import { storagePaths, tornFile, type TornFile } from './torn-files.js';

const USAGE =
  'usage: doctor [--repair [--destroy-recoverable]] [--json]\n' +
  "  lists dangling references, rows whose version differs from Vault's, orphaned secrets and damaged entries; --repair\n" +
  "  records Vault's current version in mismatched rows, deletes dangling references with nothing left in Vault and\n" +
  '  destroys orphans, and leaves alone what Vault can still give back (it prints the command);\n' +
  '  --destroy-recoverable also deletes those references and destroys every version of their secrets;\n' +
  '  --json prints the report as JSON\n' +
  "       find <Vault storage dir> -type f | doctor --torn-files [--json]\n  lists the files of Vault's storage that a crash left half written (the fix for a damaged entry: remove them)";

/** `--torn-files`: the storage paths on stdin, checked by name, and by content where this process can read the file. */
async function tornFiles(json: boolean): Promise<number> {
  if (process.stdin.isTTY) {
    process.stderr.write(
      'doctor: --torn-files reads paths on stdin, e.g. find .native/vault/data -type f | scripts/doctor.sh --torn-files\n' +
        '        (compose: docker exec vault find /vault/file -type f | scripts/doctor.sh --torn-files)\n',
    );
    return 2;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const paths = storagePaths(Buffer.concat(chunks).toString('utf8'));
  if (!paths.length) {
    // An empty list is a mistake upstream (a wrong directory, find failing), never "nothing torn".
    process.stderr.write(
      'doctor: --torn-files got no paths on stdin: is the storage directory right? (native: .native/vault/data, compose: /vault/file in the vault container)\n',
    );
    return 2;
  }
  const found: TornFile[] = [];
  let readable = 0;
  for (const p of paths) {
    let content: Buffer | undefined;
    try {
      content = fs.readFileSync(p);
      readable++;
    } catch {
      content = undefined;
    }
    const torn = tornFile(p, content);
    if (torn) found.push(torn);
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ files: paths.length, contentChecked: readable, torn: found })}\n`);
  } else {
    const lines = [
      `torn-files: ${paths.length} storage files checked by name${readable ? `, ${readable} by content` : ' (contents not readable from here: names only; a cut entry is found by content, see docs/operations.md)'}; ${found.length} to remove`,
    ];
    for (const f of found) lines.push(`  ${f.path}`, `      ${f.kind}: ${f.detail}`);
    if (found.length)
      lines.push('fix: remove each (rm <file>; compose: docker exec vault rm <file>), then make doctor REPAIR=1');
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return found.length ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const repair = argv.includes('--repair');
  const json = argv.includes('--json');
  const torn = argv.includes('--torn-files');
  const destroyRecoverable = argv.includes('--destroy-recoverable');
  const known = ['--repair', '--json', '--torn-files', '--destroy-recoverable'];
  const unknown = argv.filter((a) => !known.includes(a));
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (unknown.length) {
    process.stderr.write(`doctor: unknown argument ${unknown[0]}\n${USAGE}\n`);
    return 2;
  }
  if (torn && repair) {
    process.stderr.write(`doctor: --torn-files only lists files; it does not take --repair\n${USAGE}\n`);
    return 2;
  }
  if (destroyRecoverable && !repair) {
    process.stderr.write(
      `doctor: --destroy-recoverable only goes with --repair (make doctor REPAIR=1 DESTROY_RECOVERABLE=1)\n${USAGE}\n`,
    );
    return 2;
  }
  if (torn) return tornFiles(json);
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`doctor: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger('doctor', { level: process.env.LOG_LEVEL ?? 'warn' });
  const vault = new VaultSession({ ...config.vault, logger });
  const pgConfig = { ...config.postgres, poolSize: 2 };
  const check = (pool: Db) =>
    runDoctor({ pool, vault, mount: config.vault.kvMount, base: config.vault.kvBasePath, repair, destroyRecoverable });
  // With PG_VAULT_ROLE, doctor leases its own user of the app's role for the run; Vault drops it afterwards.
  const pool = pgConfig.vault ? undefined : createPool(pgConfig);
  try {
    const report = pgConfig.vault
      ? await withLeasedUser({ ...pgConfig, vault: pgConfig.vault }, vault, pgConfig.vault.role, check)
      : await check(pool!);
    process.stdout.write(`${json ? JSON.stringify(report) : formatReport(report, repair, destroyRecoverable)}\n`);
    return report.remaining > 0 ? 1 : 0;
  } catch (err) {
    const hint =
      err instanceof AuroraError
        ? ''
        : isConnectionError(err)
          ? ` (PostgreSQL at ${config.postgres.host}:${config.postgres.port}: is the stack running? make ps / make native)`
          : '';
    process.stderr.write(`doctor: could not check: ${(err as Error).message}${hint}\n`);
    return 3;
  } finally {
    vault.close();
    await pool?.end().catch(() => undefined);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`doctor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 3;
  },
);
