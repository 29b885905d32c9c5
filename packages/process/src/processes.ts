/**
 * Every server a test starts is registered here, and nothing outlives the test run:
 *  - on normal exit and on SIGINT/SIGTERM, registered processes are killed;
 *  - a detached watchdog kills them if this process dies without running handlers (kill -9, OOM);
 *  - `make test` finally kills anything still running under its run directory.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const live = new Set<ChildProcess>();
let watchdogFile: string | undefined;

/** A file's text (UTF-8), or '' when it cannot be read (not written yet, or already removed): for logs. */
export function readIfPresent(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Root for all test state of this run; `make test` sets AURORA_TEST_ROOT so it can sweep it afterwards. */
export function runRoot(): string {
  const root = process.env.AURORA_TEST_ROOT ?? path.join(os.tmpdir(), 'aurora-test');
  fs.mkdirSync(root, { recursive: true });
  return root;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(runRoot(), `${prefix}-`));
}

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

function ensureWatchdog(): void {
  if (watchdogFile) return;
  watchdogFile = path.join(runRoot(), `watchdog-${process.pid}.pids`);
  fs.writeFileSync(watchdogFile, '');
  const script =
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
    `for p in $(cat '${watchdogFile}' 2>/dev/null); do kill -9 "$p" 2>/dev/null; done; rm -f '${watchdogFile}'`;
  const dog = spawn('bash', ['-c', script], { detached: true, stdio: 'ignore' });
  dog.unref();
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

/**
 * The Node that runs the services (the app, vault-init and their entry points) as this package starts them:
 * AURORA_SERVICE_NODE when set, else this process's Node. scripts/run-tests.sh sets it to the production images'
 * Node (scripts/ensure-production-node.sh), so the tests exercise the V8 users run; `make native` leaves it unset and
 * runs them on the user's own Node.
 */
export function serviceNode(): string {
  return process.env.AURORA_SERVICE_NODE || process.execPath;
}

/** Spawns a long-running server process that is always cleaned up. */
export function spawnServer(cmd: string, args: string[], options: SpawnOptions & { logFile: string }): ChildProcess {
  ensureWatchdog();
  const out = fs.openSync(options.logFile, 'a');
  const child = spawn(cmd, args, { ...options, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  live.add(child);
  if (child.pid && watchdogFile) fs.appendFileSync(watchdogFile, `${child.pid}\n`);
  child.once('exit', () => live.delete(child));
  return child;
}

/**
 * `done`'s value, or a rejection with `late()`'s error when it has not settled within `timeoutMs` (the
 * promise itself is not cancelled: the caller kills what it waited for).
 */
export async function within<T>(done: Promise<T>, timeoutMs: number, late: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), timeoutMs);
  });
  try {
    return await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when the child has exited (immediately if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function stopProcess(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 10_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/**
 * Whether a process with this pid exists (signal 0 probes without signalling). EPERM means it exists but
 * belongs to another user (kill(2)): alive; ESRCH, no such process: not.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid a pidfile names when that process is alive; undefined when the file is missing or garbled, or it is gone. */
export function livePid(pidFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8'));
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
}

/**
 * Stops a process known only by its pid (a daemon of an earlier command, say): sends `signal`, waits up to
 * `graceMs` for it to exit, then sends SIGKILL if it is still there. Resolves once it is gone or killed.
 */
export async function stopPid(pid: number, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return; // already gone
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* exited just now */
  }
}

/** Anything this library starts: a server, a cluster, a stack. */
export interface Stoppable {
  stop(): Promise<unknown>;
}

/**
 * Starts two servers at once. When one fails, the other is stopped if it started (nothing may outlive a failed
 * start: the caller has nothing to stop) and the failure is thrown.
 */
export async function startBoth<A extends Stoppable, B extends Stoppable>(
  a: Promise<A>,
  b: Promise<B>,
): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
  await Promise.allSettled([ra, rb].map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
  throw ra.status === 'rejected' ? ra.reason : (rb as PromiseRejectedResult).reason;
}

/** Runs `setUp` on what was just started; when it fails, stops that (nothing may outlive a failed start), rethrows. */
export async function stopIfSetUpFails<T extends Stoppable>(
  started: T,
  setUp: (started: T) => Promise<unknown>,
): Promise<T> {
  try {
    await setUp(started);
  } catch (err) {
    await started.stop();
    throw err;
  }
  return started;
}

/** kill -9 (no shutdown handlers run), resolving once the process is gone. */
export async function killProcess(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await exited(child);
}

/** The lowest port freePort picks: above the well-known and most registered ports. */
const PICK_FROM = 10_000;

/**
 * The first port of the kernel's ephemeral range (net.ipv4.ip_local_port_range: source ports of outgoing
 * connections and of `listen(0)`), or undefined where it cannot be read (not Linux).
 */
function ephemeralRangeStart(): number | undefined {
  try {
    const first = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 0 ? first : undefined;
  } catch {
    return undefined;
  }
}

function bindable(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const { port: bound } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(bound));
    });
  });
}

/**
 * A TCP port free on 127.0.0.1 now, for a server a test starts (and may restart on the same port).
 * Picked at random below the kernel's ephemeral range: a port from that range, once its server stopped, can
 * become the source port of any outgoing connection on a busy machine, and the restarted server then fails
 * with EADDRINUSE. Where the range cannot be read, or leaves no room below it, the kernel picks (`listen(0)`).
 * Throws when 200 random picks are all taken.
 */
export async function freePort(): Promise<number> {
  const start = ephemeralRangeStart();
  if (start === undefined || start <= PICK_FROM + 1000) {
    const any = await bindable(0);
    if (any === undefined) throw new Error('no free TCP port on 127.0.0.1: binding port 0 failed');
    return any;
  }
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PICK_FROM + Math.floor(Math.random() * (start - PICK_FROM));
    if ((await bindable(port)) !== undefined) return port;
  }
  throw new Error(`no free TCP port on 127.0.0.1 between ${PICK_FROM} and ${start - 1} after 200 tries`);
}

/**
 * Thrown by a waitFor probe when what it waits for can no longer happen (the process it waits on exited): waitFor
 * rethrows it at once instead of polling out its timeout. Any other error a probe throws counts as "not yet".
 */
export class WaitFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WaitFailed';
  }
}

/** What waitFor throws when `timeoutMs` passed: its message names the wait and the probe's last error, if any. */
export class WaitTimedOut extends Error {
  constructor(
    what: string,
    timeoutMs: number,
    /** The last error the probe threw, if it threw: often the real cause ("connection refused"). */
    readonly lastError?: unknown,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    this.name = 'WaitTimedOut';
  }
}

/** How a long wait says it is still waiting: `onWaiting(elapsedMs)` every `everyMs` (default 5000) of waiting. */
export interface WaitProgress {
  onWaiting(elapsedMs: number): void;
  everyMs?: number;
}

/**
 * Polls `probe` every `intervalMs` until it returns a value (not undefined), for at most `timeoutMs`. A probe that
 * throws is asked again, and its last error is named in the timeout's message; a WaitFailed ends the wait at once.
 * With `progress`, a wait that lasts says so while it waits.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 100,
  progress?: WaitProgress,
): Promise<T> {
  const start = Date.now();
  const deadline = start + timeoutMs;
  let lastNote = start;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof WaitFailed) throw err;
      last = err;
    }
    const now = Date.now();
    if (now > deadline) throw new WaitTimedOut(what, timeoutMs, last);
    if (progress && now - lastNote >= (progress.everyMs ?? 5000)) {
      progress.onWaiting(now - start);
      lastNote = now;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Node's arguments for running a repository script from source (what the Makefile's TSX does): tsx compiles
 * TypeScript on the fly, and the `aurora-source` export condition points the workspace packages at their src/.
 */
export const TSX_NODE_ARGS: readonly string[] = ['--conditions=aurora-source', '--import', 'tsx'];

/** The repository's root directory (this file is packages/process/src/processes.ts, or dist/processes.js). */
export function repoRoot(): string {
  return path.resolve(import.meta.dirname, '..', '..', '..');
}

/** Runs a command synchronously and returns stdout; throws with its stderr when it fails. */
export function run(
  cmd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {},
): string {
  const res = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: options.env ?? process.env,
    input: options.input,
    cwd: options.cwd,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${res.status ?? res.signal}: ${res.stderr || res.stdout}`);
  return res.stdout;
}
