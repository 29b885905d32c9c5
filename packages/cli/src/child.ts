/**
 * The command the CLI runs: started with the resolved environment, stdin passed through, stdout and stderr
 * passed through a masker (or inherited as they are with masking off), stopped gracefully (a signal, a
 * timeout, then SIGKILL), and its end turned into an exit code the way shells do (128 + signal number).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { Writable } from 'node:stream';
import { createMaskStream, type MaskSet } from './mask.js';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildOptions {
  command: string;
  args: readonly string[];
  env: Record<string, string>;
  /** Values to mask in stdout and stderr; undefined: the child writes to the terminal directly. */
  mask?: MaskSet;
  stdout?: Writable;
  stderr?: Writable;
}

/** Exit code for the CLI from the child's end: its code, or 128 + the number of the signal that ended it. */
export function exitCodeOf(exit: ChildExit): number {
  if (exit.code !== null) return exit.code;
  const n = exit.signal ? os.constants.signals[exit.signal] : undefined;
  return 128 + (n ?? 0);
}

/** Thrown (as the `started` rejection) when the command cannot be started at all. */
export class SpawnError extends Error {
  constructor(
    readonly command: string,
    readonly errno: string | undefined,
  ) {
    super(
      errno === 'ENOENT'
        ? `command not found: ${command} (is it installed and on PATH?)`
        : errno === 'EACCES'
          ? `permission denied running ${command} (is it executable?)`
          : `cannot start ${command}: ${errno ?? 'unknown error'}`,
    );
  }
}

export class SupervisedChild {
  private readonly child: ChildProcess;
  /** Resolves when the process has ended and its output has been written out. */
  readonly exited: Promise<ChildExit>;
  /** Resolves once the process runs; rejects with SpawnError when it could not be started. */
  readonly started: Promise<void>;

  constructor(options: ChildOptions) {
    const masked = options.mask !== undefined;
    this.child = spawn(options.command, [...options.args], {
      env: options.env,
      stdio: ['inherit', masked ? 'pipe' : 'inherit', masked ? 'pipe' : 'inherit'],
    });
    const flushed: Promise<void>[] = [];
    if (masked) {
      for (const [from, to] of [
        [this.child.stdout!, options.stdout ?? process.stdout],
        [this.child.stderr!, options.stderr ?? process.stderr],
      ] as const) {
        const masker = createMaskStream(options.mask!);
        from.pipe(masker);
        masker.pipe(to, { end: false });
        flushed.push(new Promise((resolve) => masker.once('end', () => resolve())));
      }
    }
    this.started = new Promise((resolve, reject) => {
      this.child.once('spawn', () => resolve());
      this.child.once('error', (err: NodeJS.ErrnoException) => reject(new SpawnError(options.command, err.code)));
    });
    this.started.catch(() => undefined);
    const closed = new Promise<ChildExit>((resolve) => {
      this.child.once('close', (code, signal) => resolve({ code, signal }));
    }).then(async (exit) => {
      await Promise.all(flushed);
      return exit;
    });
    // A command that never started has no output to wait for: it ends as a shell's "not found" does.
    const notStarted = this.started.then(
      () => new Promise<never>(() => undefined),
      () => ({ code: 127, signal: null }),
    );
    this.exited = Promise.race([closed, notStarted]);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /** Sends `signal` if the process still runs; returns whether it was sent. */
  signal(signal: NodeJS.Signals): boolean {
    if (!this.running) return false;
    try {
      return this.child.kill(signal);
    } catch {
      return false;
    }
  }

  /** `signal` (default SIGTERM), then SIGKILL after `timeoutMs`; resolves with how it ended. */
  async stop(timeoutMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<ChildExit & { killed: boolean }> {
    let killed = false;
    this.signal(signal);
    const timer = setTimeout(() => {
      killed = this.signal('SIGKILL');
    }, timeoutMs);
    try {
      const exit = await this.exited;
      return { ...exit, killed };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Signals the CLI passes on to the child (SIGKILL and SIGSTOP cannot be caught). */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGTERM',
  'SIGINT',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
];

/**
 * Passes the signals above to whatever `current()` returns at the time; `onSignal` hears each one first.
 * A terminal's Ctrl-C (SIGINT with stdin a TTY) already reaches the child, which shares the foreground
 * process group, so it is not sent a second time. Returns a function that removes the handlers.
 */
export function forwardSignals(
  current: () => SupervisedChild | undefined,
  onSignal: (signal: NodeJS.Signals) => void = () => undefined,
): () => void {
  const handlers = FORWARDED_SIGNALS.map((signal) => {
    const handler = () => {
      onSignal(signal);
      if (signal === 'SIGINT' && process.stdin.isTTY) return;
      current()?.signal(signal);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}
