/** Running the outside tools the operations scripts need (tar, docker, pg_dump, psql) with errors that say which. */
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { BackupError } from './archive.js';

/** Runs a command; stdout as a Buffer; stderr (trimmed, capped) in the error. Never echoes its input. */
export function exec(
  cmd: string,
  args: string[],
  options: {
    input?: Buffer | string;
    inputFile?: string;
    outFile?: string;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    what?: string;
  } = {},
): Buffer {
  let inFd: number | undefined;
  let outFd: number | undefined;
  try {
    if (options.inputFile) inFd = fs.openSync(options.inputFile, 'r');
    if (options.outFile) outFd = fs.openSync(options.outFile, 'w', 0o600);
    const res = spawnSync(cmd, args, {
      input: options.input,
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [inFd ?? (options.input !== undefined ? 'pipe' : 'ignore'), outFd ?? 'pipe', 'pipe'],
      maxBuffer: 512 * 1024 * 1024,
    });
    if (res.error) throw new BackupError(`${options.what ?? cmd} could not run: ${res.error.message}`);
    if (res.status !== 0) {
      const err = (res.stderr?.toString('utf8') ?? '').trim().split('\n').slice(-8).join('\n').slice(0, 2000);
      throw new BackupError(
        `${options.what ?? `${cmd} ${args[0] ?? ''}`} failed (exit ${res.status ?? res.signal})${err ? `: ${err}` : ''}`,
      );
    }
    return res.stdout ?? Buffer.alloc(0);
  } finally {
    if (inFd !== undefined) fs.closeSync(inFd);
    if (outFd !== undefined) fs.closeSync(outFd);
  }
}
