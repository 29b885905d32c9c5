#!/usr/bin/env node
/**
 * `aurora-secrets`: parses the command line and dispatches; the work is done in run.ts, check.ts and the
 * modules under them. Exits with the child's code for `run`, 2 when nothing was started (see args.ts).
 */
import { parseCommandLine, USAGE } from './args.js';
import { checkCommand, resolveCommand } from './check.js';
import { CliError, EXIT_NOT_STARTED } from './cli-error.js';
import { loadVaultSettings } from './config.js';
import { stderrReporter } from './reporter.js';
import { runCommand } from './run.js';

const VERSION = '0.1.0';

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  switch (parsed.command) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'version':
      process.stdout.write(`aurora-secrets ${VERSION}\n`);
      return 0;
    case 'run':
      return runCommand(parsed.options, loadVaultSettings(), stderrReporter());
    case 'check':
      return checkCommand(parsed.envFiles, loadVaultSettings(), process.stdout);
    case 'resolve': {
      const value = await resolveCommand(parsed.reference, loadVaultSettings());
      // A terminal gets a line end; a pipe or $(...) gets the value exactly as stored.
      process.stdout.write(process.stdout.isTTY ? `${value}\n` : value);
      return 0;
    }
  }
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

let code: number;
try {
  code = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(`aurora-secrets: error: ${err.message}\n`);
    code = err.exitCode;
  } else {
    // Not expected; the message of our own errors never holds a value, and the stack helps a bug report.
    process.stderr.write(`aurora-secrets: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    code = EXIT_NOT_STARTED;
  }
}
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
