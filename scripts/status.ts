/**
 * `make status [JSON=1]`: one screen that says how the stack is, with what to do for anything red
 * (scripts/ops/status.ts). The stack is the one `make backup` would pick (scripts/ops/which-stack.sh:
 * AURORA_STACK=native|compose, else the running compose stack, single node or HA, else the native one).
 *
 * Ports as the stack publishes them: APP_PORT (8080), APP_METRICS_PORT (9464), VAULT_INIT_METRICS_PORT (compose) or
 * NATIVE_VAULT_INIT_HEALTH_PORT (native; both 8201), from the environment or the checkout's .env.
 * Exit code: 0 nothing red, 1 something red (warnings alone do not fail), 2 no stack found.
 */
import path from 'node:path';
import { repoRoot } from '@aurora/process';
import { BackupError } from './ops/archive.js';
import { nativeDir } from './ops/native-target.js';
import { selectTarget } from './ops/select-target.js';
import { collectStatus, renderStatus } from './ops/status.js';
import { fromDotEnv } from './ops/dot-env.js';

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== '--json');
  if (unknown.length || argv.includes('--help')) {
    process.stderr.write('usage: status.ts [--json]   (make status; make status JSON=1)\n');
    return unknown.length ? 2 : 0;
  }
  const root = repoRoot();
  let target;
  try {
    target = selectTarget(root, 'none');
  } catch (err) {
    if (err instanceof BackupError) {
      process.stderr.write(`status: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const port = (name: string, fallback: number) => Number(fromDotEnv(root, name) ?? fallback);
  const compose = target.kind === 'compose';
  const native = path.relative(root, nativeDir(root)) || nativeDir(root);
  const report = await collectStatus({
    target: target.name,
    kind: target.kind,
    expected: ['vault', 'postgres', 'vault-init', 'vault-agent', 'app'],
    running: () => target.running(),
    vaultAddr: target.vaultApiAddr(),
    sealStatus: () => target.sealStatus(),
    vaultInitUrl: `http://127.0.0.1:${compose ? port('VAULT_INIT_METRICS_PORT', 8201) : port('NATIVE_VAULT_INIT_HEALTH_PORT', 8201)}`,
    appUrl: `http://127.0.0.1:${port('APP_PORT', 8080)}`,
    appMetricsUrl: `http://127.0.0.1:${port('APP_METRICS_PORT', 9464)}/metrics`,
    doctor: () => target.doctor(),
    backupDir: path.resolve(root, process.env.BACKUP_DIR || 'backups'),
    logsOf: (s) => (compose ? (s === 'app' ? 'make logs' : `docker logs ${s}`) : `${native}/logs/${s}.log`),
    startCommand: compose ? 'make prod-local (or make prod-local-ha)' : 'make native',
  });
  process.stdout.write(
    argv.includes('--json') ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report, process.stdout.isTTY),
  );
  return report.level === 'red' ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`status: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(3);
  },
);
