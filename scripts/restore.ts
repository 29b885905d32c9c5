/**
 * `make restore FILE=backups/aurora-backup-….tar.gz[.enc] [CONFIRM=1]` (or `restore.ts FILE [--yes]`)
 * Verifies the archive (nothing is touched if it is corrupt, truncated or the passphrase is wrong), refuses to
 * overwrite existing data without CONFIRM=1/--yes, restores Vault's data, init.json and the database, starts
 * the stack, and checks Vault unseals with the restored keys and doctor finds 0 dangling / 0 orphans.
 * Exit codes: 0 restored and verified, 1 refused or failed, 2 usage, 3 restored but the check failed,
 * 4 confirmation needed.
 */
import path from 'node:path';
import { repoRoot } from '@aurora/process';
import { BackupError, passphraseFromEnv } from './ops/archive.js';
import { restore } from './ops/backup-restore.js';
import { selectTarget } from './ops/select-target.js';
import { runMain } from './ops/command-main.js';

const say = (msg: string) => process.stderr.write(`[restore] ${msg}\n`);

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const confirm = args.includes('--yes') || args.includes('-y') || /^(1|true|yes)$/i.test(process.env.CONFIRM ?? '');
  const files = args.filter((a) => a && !a.startsWith('-'));
  const unknown = args.filter((a) => a.startsWith('-') && !['--yes', '-y'].includes(a));
  if (unknown.length || files.length !== 1) {
    throw new BackupError(
      'usage: make restore FILE=backups/aurora-backup-<ts>.tar.gz[.enc] [CONFIRM=1]   (restore.ts FILE [--yes])',
      2,
    );
  }
  const root = repoRoot();
  const file = path.resolve(files[0]!);
  const passphrase = passphraseFromEnv();
  const target = selectTarget(root, 'native');
  say(`restoring ${file} into the ${target.name} stack`);
  const scratchDir = path.resolve(root, process.env.BACKUP_DIR || 'backups');
  const result = await restore(target, file, { confirm, passphrase, scratchDir, log: say });
  say(`done: the ${target.name} stack runs on the state of ${result.manifest.created_at}`);
  return 0;
}

runMain(main, say);
