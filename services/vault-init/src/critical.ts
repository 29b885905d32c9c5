/**
 * Work a stop must let finish. A stop (SIGTERM from `docker stop` or a rollout, Ctrl-C during the first
 * `make prod-local`) is not a kill: vault-init can wait for the few moments where being cut off mid-way leaves
 * damage, and start none of them once it is stopping:
 *   - Vault's answer to sys/init until init.json is durable: cut there, the unseal keys are lost for good, so a
 *     stop waits for it however long it takes (its own request timeout, or a SIGKILL, is the limit; a save that
 *     keeps failing, retried while vault-init runs, gets one last attempt: `stopSignal`);
 *   - an audit device switch: cut mid-enable, Vault 1.21 can keep a device it does not list (configure/audit.ts);
 *     a stop waits for it until its deadline, after which the next start finishes the switch.
 * A kill -9 cannot be helped (test/faults/vault-init-kill9.test.ts measures that window); a stop can.
 */

/**
 * How long a whole stop may take, in ms, from the signal to the exit, unless the initialization is in flight:
 * under the 10 s after which `docker stop` sends SIGKILL.
 */
export const STOP_DEADLINE_MS = 9_000;

/** Thrown by `critical` once vault-init is stopping: the work was not started. */
export class StoppingError extends Error {
  constructor(what: string) {
    super(`vault-init is stopping: ${what} not started`);
    this.name = 'StoppingError';
  }
}

export interface CriticalOptions {
  /** A stop waits for it to end, past any deadline: losing it costs what no later start can repair. */
  untilDone?: boolean;
}

interface Work {
  what: string;
  untilDone: boolean;
}

let stopping = false;
/** Aborted when the stop begins: for critical work that waits, so that it stops waiting. */
const stop = new AbortController();
const inFlight = new Map<Promise<unknown>, Work>();
/** `untilDone` work that failed while a stop waited for it: the stop ends with that error, not with success. */
const failedWhileStopping: unknown[] = [];
/** Other critical work that failed while a stop waited for it: the next start finishes it. */
const alsoFailed: string[] = [];

/** Runs `fn` as critical work named `what` (for the log); rejects with StoppingError once a stop began. */
export function critical<T>(what: string, fn: () => Promise<T>, options: CriticalOptions = {}): Promise<T> {
  if (stopping) return Promise.reject(new StoppingError(what));
  const work = fn();
  inFlight.set(work, { what, untilDone: options.untilDone === true });
  work.then(
    () => inFlight.delete(work),
    (err: unknown) => {
      if (stopping && !(err instanceof StoppingError)) {
        if (options.untilDone) failedWhileStopping.push(err);
        else alsoFailed.push(`${what}: ${(err as Error)?.message ?? String(err)}`);
      }
      inFlight.delete(work);
    },
  );
  return work;
}

export interface Drained {
  /** Critical work still running at the deadline (never work marked `untilDone`). */
  unfinished: string[];
  /** The error of the first `untilDone` work that failed while the stop waited for it. */
  failed?: unknown;
  /** Other critical work that failed while the stop waited for it ("<what>: <message>"). */
  alsoFailed: string[];
}

/**
 * Begins the stop: no critical work starts from now on. Resolves once the work in flight has ended, work
 * marked `untilDone` however long that takes, the rest at the latest at `deadline` (ms since the epoch).
 * `onWait` is told what it waits for, when there is something.
 */
export async function drainCritical(deadline: number, onWait?: (what: string[]) => void): Promise<Drained> {
  stopping = true;
  stop.abort();
  const work = [...inFlight.entries()];
  if (work.length > 0) onWait?.(work.map(([, w]) => w.what));
  await Promise.all([
    Promise.allSettled(work.filter(([, w]) => w.untilDone).map(([p]) => p)),
    untilDeadline(Promise.allSettled(work.filter(([, w]) => !w.untilDone).map(([p]) => p)), deadline),
  ]);
  return {
    unfinished: [...inFlight.values()].map((w) => w.what),
    failed: failedWhileStopping[0],
    alsoFailed: [...alsoFailed],
  };
}

/** Resolves when `work` settles or at `deadline` (ms since the epoch), whichever comes first; never rejects. */
export async function untilDeadline(work: Promise<unknown> | undefined, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.resolve(work).catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now())))),
  ]);
  clearTimeout(timer);
}

/** True once a stop began. */
export function isStopping(): boolean {
  return stopping;
}

/** Aborted once a stop began: critical work that waits between attempts ends its wait with it. */
export function stopSignal(): AbortSignal {
  return stop.signal;
}
