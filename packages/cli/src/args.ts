/**
 * Command-line parsing for `aurora-secrets` (node's util.parseArgs underneath). `run` takes its own options up
 * to `--` or to the first word that is not an option; everything after that is the command, untouched.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { CliError } from './cli-error.js';
import type { ReloadAction, RunOptions } from './run.js';

export const USAGE = `usage:
  aurora-secrets run [--env-file FILE]... [--watch [--interval 30s] [--signal SIGHUP | --restart]]
                     [--stop-timeout 10s] [--no-mask] [--allow-missing] -- COMMAND [ARGS...]
  aurora-secrets resolve REFERENCE
  aurora-secrets check [--env-file FILE]...

Every environment value of the form vault:kv/data/<mount>/<path>#<key> is replaced by that value from Vault
(without #<key>: the secret's only key). Vault: VAULT_ADDR; identity: VAULT_TOKEN, VAULT_APPROLE_DIR
(role_id, secret_id), ~/.vault-token, or /vault/approle/app. See docs/run.md.
Exit codes: the command's own; 2 when nothing was started (bad usage, a reference that cannot be resolved);
127 when the command is not found; 128+N when the command was ended by signal N.`;

export type Parsed =
  | { command: 'help' }
  | { command: 'version' }
  | { command: 'run'; options: RunOptions }
  | { command: 'resolve'; reference: string }
  | { command: 'check'; envFiles: string[] };

const RUN_OPTIONS = {
  'env-file': { type: 'string', multiple: true, short: 'e' },
  watch: { type: 'boolean', short: 'w' },
  interval: { type: 'string' },
  signal: { type: 'string' },
  restart: { type: 'boolean' },
  'stop-timeout': { type: 'string' },
  'no-mask': { type: 'boolean' },
  'allow-missing': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * A duration: `500ms`, `30s`, `2m`, or a bare number of seconds. Throws CliError naming `flag` when it is not
 * one, or is under `minMs`.
 */
export function parseDuration(flag: string, text: string, minMs: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new CliError(`${flag} ${JSON.stringify(text)}: expected a duration such as 30s, 500ms or 2m`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms < minMs) throw new CliError(`${flag} ${text}: must be at least ${minMs} ms`);
  return Math.round(ms);
}

/** `SIGHUP`, `HUP` or `hup` → `SIGHUP`; throws CliError for a name the system does not know. */
export function parseSignal(text: string): NodeJS.Signals {
  const name = (
    text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`
  ) as NodeJS.Signals;
  if (!(name in os.constants.signals) || name === 'SIGKILL' || name === 'SIGSTOP')
    throw new CliError(`--signal ${text}: not a signal that can be sent and handled; example: --signal SIGHUP`);
  return name;
}

/** Splits `run`'s arguments into its options and the command (after `--`, or from the first non-option). */
function splitRunArgs(args: string[]): { own: string[]; command: string[] } {
  const takesValue = new Set(['--env-file', '-e', '--interval', '--signal', '--stop-timeout']);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return { own: args.slice(0, i), command: args.slice(i + 1) };
    if (!a.startsWith('-')) return { own: args.slice(0, i), command: args.slice(i) };
    if (takesValue.has(a)) i++;
  }
  return { own: args, command: [] };
}

function parseRun(args: string[]): Parsed {
  const { own, command } = splitRunArgs(args);
  let values;
  try {
    values = parseArgs({ args: own, options: RUN_OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new CliError(`run: ${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) return { command: 'help' };
  if (command.length === 0) throw new CliError(`run: no command given: aurora-secrets run -- COMMAND [ARGS...]`);
  if (values.signal !== undefined && values.restart)
    throw new CliError('run: --signal and --restart exclude each other: pick what a change should do');
  if (!values.watch && (values.signal !== undefined || values.restart || values.interval !== undefined))
    throw new CliError('run: --signal, --restart and --interval only apply with --watch');
  const action: ReloadAction =
    values.signal !== undefined ? { kind: 'signal', signal: parseSignal(values.signal) } : { kind: 'restart' };
  return {
    command: 'run',
    options: {
      envFiles: values['env-file'] ?? [],
      command: command[0]!,
      args: command.slice(1),
      mask: !values['no-mask'],
      allowMissing: !!values['allow-missing'],
      ...(values.watch
        ? { watch: { intervalMs: parseDuration('--interval', values.interval ?? '30s', 200), action } }
        : {}),
      stopTimeoutMs: parseDuration('--stop-timeout', values['stop-timeout'] ?? '10s', 0),
    },
  };
}

/** Parses the whole command line (without `node` and the script); throws CliError with usage on bad input. */
export function parseCommandLine(argv: string[]): Parsed {
  const [verb, ...rest] = argv;
  switch (verb) {
    case undefined:
      // No verb is bad usage (exit 2, as the usage says), not a request for help.
      throw new CliError(`a command is needed: run, resolve or check\n${USAGE}`);
    case 'help':
    case '--help':
    case '-h':
      return { command: 'help' };
    case '--version':
    case 'version':
      return { command: 'version' };
    case 'run':
      return parseRun(rest);
    case 'resolve': {
      if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h')) return { command: 'help' };
      if (rest.length !== 1) throw new CliError(`resolve takes exactly one reference\n${USAGE}`);
      return { command: 'resolve', reference: rest[0]! };
    }
    case 'check': {
      let values;
      try {
        ({ values } = parseArgs({
          args: rest,
          options: { 'env-file': RUN_OPTIONS['env-file'], help: RUN_OPTIONS.help },
          strict: true,
          allowPositionals: false,
        }));
      } catch (err) {
        throw new CliError(`check: ${(err as Error).message}\n${USAGE}`);
      }
      if (values.help) return { command: 'help' };
      return { command: 'check', envFiles: values['env-file'] ?? [] };
    }
    default:
      throw new CliError(`unknown command ${JSON.stringify(verb)}\n${USAGE}`);
  }
}
