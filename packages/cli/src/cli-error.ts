/**
 * An error that ends the command with a message for the user and an exit code, without a stack trace.
 * Exit codes: 2 = nothing was started (bad usage, a reference that cannot be resolved, Vault not usable);
 * 127 = the command to run was not found; otherwise the child's own code.
 */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Exit code when the CLI started nothing: bad usage, an unresolvable reference, Vault not usable. */
export const EXIT_NOT_STARTED = 2;
