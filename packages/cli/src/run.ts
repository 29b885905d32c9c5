/**
 * `aurora-secrets run`: resolve the vault: references of an environment, start a command with it, mask the
 * values in its output, pass signals and the exit code through, and with --watch re-run it (or signal it)
 * when a secret it uses gets a new version. Nothing starts when a reference cannot be resolved.
 */
import os from 'node:os';
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

/**
 * Signals after which the run ends with the child instead of starting another one. Not SIGHUP: many servers
 * take it as "reload", and a child that dies of it ends the run anyway.
 */
const ENDING_SIGNALS = new Set<NodeJS.Signals>(['SIGTERM', 'SIGINT', 'SIGQUIT']);

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
    return await new Supervisor(options, env, session, report).run();
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

/** One run: the child of the moment, the watcher, and what a signal or a rotation does to them. */
class Supervisor {
  private current?: SupervisedChild;
  /** Set by SIGTERM/SIGINT/SIGQUIT: no child is started after it. */
  private ending?: NodeJS.Signals;
  /** A restart in progress; the child it stops must not end the run. */
  private restarting?: Promise<void>;
  private watcher?: SecretWatcher;
  private readonly masks?: MaskSet;

  constructor(
    private readonly options: RunOptions,
    private readonly env: Record<string, string>,
    private readonly session: VaultSession | undefined,
    private readonly report: Reporter,
  ) {
    if (options.mask) this.masks = new MaskSet();
  }

  async run(): Promise<number> {
    // Installed before anything starts, so that a SIGTERM during resolution or spawning is never lost: the
    // run then ends (after the child, if one is already there) instead of the CLI dying and leaving it behind.
    const unforward = forwardSignals(
      () => this.current,
      (signal) => {
        if (ENDING_SIGNALS.has(signal)) this.ending ??= signal;
      },
    );
    try {
      return await this.supervise();
    } finally {
      this.watcher?.stop();
      unforward();
    }
  }

  private async supervise(): Promise<number> {
    const { options, report } = this;
    const first = await resolveOrFail(this.session, this.env, options.allowMissing);
    if (first.problems.length) notStarted(first.problems, report);
    for (const s of first.skipped) report.warn(`${s.message}; starting without ${s.name} (--allow-missing)`);
    this.addMasks(first);
    if (this.ending) return 128 + (os.constants.signals[this.ending] ?? 0);
    let child = await this.start(first.env);
    if (options.watch && this.session && first.resolved.length) this.watch(first, options.watch, this.session);

    // The run ends when the current child ends on its own (or after a forwarded signal), not when a restart
    // stops it on purpose.
    for (;;) {
      const exit: ChildExit = await child.exited;
      if (this.restarting) await this.restarting.catch(() => undefined);
      const now = this.current!;
      if (now === child || this.ending) {
        if (now !== child) await now.stop(options.stopTimeoutMs);
        return exitCodeOf(exit);
      }
      child = now;
    }
  }

  private addMasks(resolution: EnvironmentResolution): void {
    if (!this.masks) return;
    for (const r of resolution.resolved)
      if (!this.masks.add(r.name, r.value))
        this.report.warn(`${r.name}'s value is too short to be masked in the output`);
  }

  private async start(childEnv: Record<string, string>): Promise<SupervisedChild> {
    const { command, args } = this.options;
    const child = new SupervisedChild({ command, args, env: childEnv, mask: this.masks });
    this.current = child;
    try {
      await child.started;
    } catch (err) {
      throw new CliError((err as Error).message, 127);
    }
    return child;
  }

  private watch(first: EnvironmentResolution, watch: NonNullable<RunOptions['watch']>, session: VaultSession): void {
    session.keepAlive(this.report);
    this.watcher = new SecretWatcher({
      client: () => session.client,
      intervalMs: watch.intervalMs,
      log: this.report,
      onChange: async (changes) => {
        this.restarting = this.reload(changes, watch.action, session).finally(() => {
          this.restarting = undefined;
        });
        await this.restarting;
      },
    });
    this.watcher.use(watchedSecrets(first.resolved));
    this.watcher.start();
  }

  /** A watched secret moved: resolve everything again, then restart or signal the child. */
  private async reload(changes: SecretChange[], action: ReloadAction, session: VaultSession): Promise<void> {
    const { options, report } = this;
    for (const c of changes)
      report.info(`${c.names.join(', ')} changed (${c.mount}/${c.path} version ${c.from} → ${c.to})`);
    const next = await resolveOrFail(session, this.env, options.allowMissing);
    if (next.problems.length) {
      for (const p of next.problems) report.error(p.message);
      report.error('the new values cannot be resolved; the command keeps running with the ones it has');
      return;
    }
    this.addMasks(next);
    this.watcher?.use(watchedSecrets(next.resolved));
    const old = this.current;
    if (this.ending || !old?.running) return;
    if (action.kind === 'signal') {
      report.info(`sending ${action.signal} to pid ${old.pid}`);
      old.signal(action.signal);
      return;
    }
    report.info(`restarting: stopping pid ${old.pid} (SIGTERM, then SIGKILL after ${options.stopTimeoutMs} ms)`);
    const stopped = await old.stop(options.stopTimeoutMs);
    if (stopped.killed) report.warn(`pid ${old.pid} did not stop within ${options.stopTimeoutMs} ms; killed it`);
    if (this.ending) return;
    const started = await this.start(next.env);
    report.info(`restarted: pid ${started.pid}`);
  }
}
