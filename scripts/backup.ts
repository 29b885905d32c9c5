/**
 * `make backup` [BACKUP_DIR=./backups] [BACKUP_PASSPHRASE=… | BACKUP_PASSPHRASE_FILE=…] [AURORA_STACK=native|compose]
 * Writes one archive (mode 0600) with Vault's data, the init material (unseal keys + root token) and a
 * PostgreSQL dump, consistent with each other: with file storage during a short, announced pause of Vault;
 * with Raft storage (make prod-local-ha) online, from `vault operator raft snapshot save`. docs/operations.md.
 */
import path from 'node:path';
import { repoRoot } from '@aurora/process';
import { BackupError, passphraseFromEnv } from './ops/archive.js';
import { backup } from './ops/backup-restore.js';
import { selectTarget } from './ops/select-target.js';
import { runMain } from './ops/command-main.js';

const say = (msg: string) => process.stderr.write(`[backup] ${msg}\n`);

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(
      'usage: backup.ts  (env: BACKUP_DIR, BACKUP_PASSPHRASE or BACKUP_PASSPHRASE_FILE, AURORA_STACK=native|compose)\n',
    );
    return 0;
  }
  if (args.length)
    throw new BackupError(`unknown argument ${args[0]}; configuration is by environment (see --help)`, 2);
  const root = repoRoot();
  const outDir = path.resolve(root, process.env.BACKUP_DIR || 'backups');
  const passphrase = passphraseFromEnv();
  const target = selectTarget(root, 'none');
  say(`backing up the ${target.name} stack into ${outDir}`);
  const { file, pauseMs, writesHeldMs } = await backup(target, { outDir, passphrase, log: say });
  say(
    `wrote ${file} (mode 0600${passphrase ? ', encrypted with openssl aes-256-cbc/pbkdf2' : ''}); ${
      writesHeldMs !== undefined
        ? `online: Vault never stopped, credential writes waited at most ${writesHeldMs} ms for the cut`
        : `Vault was paused ${(pauseMs / 1000).toFixed(1)} s`
    }`,
  );
  say(
    passphrase
      ? 'It holds the unseal keys and the root token: without the passphrase it is useless, with it it is everything. Keep both apart.'
      : 'WARNING: it holds the unseal keys and the root token in clear: anyone who reads it has every secret. Set BACKUP_PASSPHRASE or BACKUP_PASSPHRASE_FILE to encrypt.',
  );
  process.stdout.write(`${file}\n`);
  return 0;
}

runMain(main, say);
