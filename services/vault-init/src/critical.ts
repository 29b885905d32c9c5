/**
 * Work a stop must let finish. A stop (SIGTERM from `docker stop` or a rollout, Ctrl-C during the first
 * `make prod-local`) is not a kill: vault-init can wait for the few moments where being cut off mid-way leaves
 * damage, and start none of them once it is stopping:
 *   - Vault's answer to sys/init until init.json is durable: cut there, the unseal keys are lost for good;
 *   - an audit device switch: cut mid-enable, Vault 1.21 can keep a device it does not list (configure/audit.ts).
 * A kill -9 cannot be helped (test/faults/vault-init-kill9.test.ts measures that window); a stop can.
 */

/**
 * How long a stop waits for critical work in flight, in ms: longer than sys/init or a device switch take on a
 * busy machine, shorter than the 10 s after which `docker stop` sends SIGKILL.
 */
export const CRITICAL_GRACE_MS = 8_000;

/** Thrown by `critical` once vault-init is stopping: the work was not started. */
export class StoppingError extends Error {
  constructor(what: string) {
    super(`vault-init is stopping: ${what} not started`);
    this.name = 'StoppingError';
  }
}

let stopping = false;
const inFlight = new Map<Promise<unknown>, string>();

/** Runs `fn` as critical work named `what` (for the log); rejects with StoppingError once a stop began. */
export function critical<T>(what: string, fn: () => Promise<T>): Promise<T> {
  if (stopping) return Promise.reject(new StoppingError(what));
  const work = fn();
  inFlight.set(work, what);
  const done = () => void inFlight.delete(work);
  work.then(done, done);
  return work;
}

/**
 * Begins the stop: no critical work starts from now on, and the returned promise resolves once the work in
 * flight has ended, or after `graceMs`. Resolves to what was still running then (empty when all ended).
 * `onWait` is told what it waits for, when there is something.
 */
export async function drainCritical(graceMs = CRITICAL_GRACE_MS, onWait?: (what: string[]) => void): Promise<string[]> {
  stopping = true;
  if (inFlight.size === 0) return [];
  onWait?.([...inFlight.values()]);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([...inFlight.keys()]),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
  ]);
  clearTimeout(timer);
  return [...inFlight.values()];
}

/** True once a stop began. */
export function isStopping(): boolean {
  return stopping;
}
