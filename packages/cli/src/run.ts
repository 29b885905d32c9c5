/**
 * `aurora-secrets run`: resolve the vault: references of an environment, start a command with it, mask the
 * values in its output, pass signals and the exit code through, and with --watch re-run it (or signal it)
 * when a secret it uses gets a new version. Nothing starts when a reference cannot be resolved.
 */
import { CliError, EXIT_NOT_STARTED } from './cli-error.js';
import { SupervisedChild, exitCodeOf, forwardSignals, type ChildExit } from './child.js';
import type { CliVaultSettings } from './config.js';
import { loadEnvironment } from './env-file.js';
import { MaskSet } from './mask.js';
import {
  malformedReferences,
  referenceNames,
  resolveEnvironment,
  type EnvironmentResolution,
  type ReferenceProblem,
} from './resolve-env.js';
import type { Reporter } from './reporter.js';
import { VaultSession } from './vault-session.js';
import { SecretWatcher, watchedSecrets, type SecretChange } from './watch.js';

export type ReloadAction = { kind: 'restart' } | { kind: 'signal'; signal: NodeJS.Signals };

export interface RunOptions {
  envFiles: string[];
  command: string;
  args: string[];
  mask: boolean;
  allowMissing: boolean;
  /** Undefined: no watching. */
  watch?: { intervalMs: number; action: ReloadAction };
  /** How long a stopped child gets between SIGTERM and SIGKILL, ms. */
  stopTimeoutMs: number;
}

/** Signals after which the run ends with the child instead of starting another one. */
const ENDING_SIGNALS = new Set<NodeJS.Signals>(['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP']);

/** Runs the command; resolves with the exit code for the CLI. Throws CliError before anything is started. */
export async function runCommand(
  options: RunOptions,
  settings: CliVaultSettings,
  report: Reporter,
  baseEnv: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const env = loadEnvironment(options.envFiles, baseEnv);
  const malformed = malformedReferences(env);
  if (malformed.length) notStarted(malformed, report);
  const needsVault = referenceNames(env).length > 0;
  const session = needsVault ? await VaultSession.open(settings) : undefined;
  try {
    return await supervise(options, env, session, report);
  } finally {
    session?.stop();
  }
}

function notStarted(problems: ReferenceProblem[], report: Reporter): never {
  for (const p of problems) report.error(p.message);
  throw new CliError(
    `${problems.length} reference(s) could not be resolved; nothing was started` +
      (problems.every((p) => p.status === 'not-found') ? ' (--allow-missing starts without them)' : ''),
    EXIT_NOT_STARTED,
  );
}

async function resolveOrFail(
  session: VaultSession | undefined,
  env: Record<string, string>,
  allowMissing: boolean,
): Promise<EnvironmentResolution> {
  if (!session) return { env, resolved: [], problems: [], skipped: [] };
  return resolveEnvironment(session, env, { allowMissing });
}

async function supervise(
  options: RunOptions,
  env: Record<string, string>,
  session: VaultSession | undefined,
  report: Reporter,
): Promise<number> {
  const first = await resolveOrFail(session, env, options.allowMissing);
  if (first.problems.length) notStarted(first.problems, report);
  for (const s of first.skipped) report.warn(`${s.message}; starting without ${s.name} (--allow-missing)`);

  const masks = options.mask ? new MaskSet() : undefined;
  const addMasks = (resolution: EnvironmentResolution) => {
    for (const r of resolution.resolved)
      if (masks && !masks.add(r.name, r.value))
        report.warn(`${r.name}'s value is too short to be masked in the output`);
  };
  addMasks(first);

  const start = async (childEnv: Record<string, string>): Promise<SupervisedChild> => {
    const child = new SupervisedChild({ command: options.command, args: options.args, env: childEnv, mask: masks });
    try {
      await child.started;
    } catch (err) {
      throw new CliError((err as Error).message, 127);
    }
    return child;
  };

  let current = await start(first.env);
  let ending = false;
  let restarting: Promise<void> | undefined;
  const unforward = forwardSignals(
    () => current,
    (signal) => {
      if (ENDING_SIGNALS.has(signal)) ending = true;
    },
  );

  let watcher: SecretWatcher | undefined;
  if (options.watch && session && first.resolved.length) {
    const action = options.watch.action;
    session.keepAlive(report);
    watcher = new SecretWatcher({
      client: () => session.client,
      intervalMs: options.watch.intervalMs,
      log: report,
      onChange: async (changes) => {
        restarting = handleChange(changes).finally(() => {
          restarting = undefined;
        });
        await restarting;
      },
    });
    watcher.use(watchedSecrets(first.resolved));
    watcher.start();

    const handleChange = async (changes: SecretChange[]): Promise<void> => {
      for (const c of changes)
        report.info(`${c.names.join(', ')} changed (${c.mount}/${c.path} version ${c.from} → ${c.to})`);
      const next = await resolveOrFail(session, env, options.allowMissing);
      if (next.problems.length) {
        for (const p of next.problems) report.error(p.message);
        report.error('the new values cannot be resolved; the command keeps running with the ones it has');
        return;
      }
      addMasks(next);
      watcher!.use(watchedSecrets(next.resolved));
      if (ending || !current.running) return;
      if (action.kind === 'signal') {
        report.info(`sending ${action.signal} to pid ${current.pid}`);
        current.signal(action.signal);
        return;
      }
      const old = current;
      report.info(`restarting: stopping pid ${old.pid} (SIGTERM, then SIGKILL after ${options.stopTimeoutMs} ms)`);
      const stopped = await old.stop(options.stopTimeoutMs);
      if (stopped.killed) report.warn(`pid ${old.pid} did not stop within ${options.stopTimeoutMs} ms; killed it`);
      if (ending) return;
      current = await start(next.env);
      report.info(`restarted: pid ${current.pid}`);
    };
  }

  try {
    // The run ends when the current child ends on its own (or after a forwarded signal), not when a restart
    // stops it on purpose.
    for (;;) {
      const child = current;
      const exit: ChildExit = await child.exited;
      if (restarting) await restarting.catch(() => undefined);
      if (current === child || ending) {
        if (current !== child) await current.stop(options.stopTimeoutMs);
        return exitCodeOf(exit);
      }
    }
  } finally {
    watcher?.stop();
    unforward();
  }
}
