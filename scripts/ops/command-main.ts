/** How the operations commands (backup, restore, root-token) end: one exit code, one line of error. */
import { BackupError } from './archive.js';

/**
 * Runs a command's `main` and makes its result the process's exit code. An error is said as its message alone
 * (no stack trace: it is meant for the operator) and exits with a BackupError's own code, 1 for any other.
 */
export function runMain(main: () => Promise<number>, say: (msg: string) => void): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      say(err instanceof Error ? err.message : String(err));
      process.exitCode = err instanceof BackupError ? err.exitCode : 1;
    },
  );
}
