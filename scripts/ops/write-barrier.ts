/**
 * The consistent cut of an online backup (Raft storage): Vault keeps serving, and the app's credential writes
 * wait only for the instant both copies are cut.
 *
 * Why a barrier: the app writes a secret to Vault, then commits its reference row; it deletes by removing the
 * row (uncommitted), destroying the secret, then committing (services/app/src/credentials/service.ts). Two
 * copies taken one after the other, with no coordination, can land between those steps in either order: a
 * row whose secret the snapshot lacks (dangling), or a secret without its row (orphan). Every write holds the
 * write barrier shared for its whole span, and so does doctor's repair (both through @aurora/common/locks, which
 * owns the barrier); the backup takes it exclusively, which waits for the changes in flight and queues new
 * ones, then:
 *   1. opens a REPEATABLE READ transaction and exports its snapshot (PostgreSQL's copy is cut here),
 *   2. takes Vault's snapshot (`vault operator raft snapshot save`),
 *   3. releases the barrier: writes go on;
 *   4. pg_dump --snapshot=<exported> dumps exactly the state of step 1, while the exporting transaction stays
 *      open, and only then is that transaction closed.
 * PostgreSQL is reached through psql (the native binary, or `docker exec -i` into the postgres container): one
 * session whose queries are fed over stdin, each followed by an \echo marker to know when it is done.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { BARRIER_EXCLUSIVE_SQL, BARRIER_RELEASE_SQL } from '@aurora/common/locks';
import { BackupError } from './archive.js';

export class PsqlSession {
  private readonly child: ChildProcessWithoutNullStreams;
  private out = '';
  private err = '';
  private exited?: string;
  private waiter?: () => void;
  private seq = 0;

  /**
   * `cmd args` must start psql reading SQL from stdin (the session adds -qAtX and ON_ERROR_STOP). `stdinFirst` is
   * written before any SQL (a wrapper that reads a libpq password line first); `cleanup` runs once psql ended.
   */
  constructor(
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
    private readonly what = 'psql',
    extra: { stdinFirst?: string; cleanup?: () => void } = {},
  ) {
    this.child = spawn(cmd, [...args, '-qAtX', '-v', 'ON_ERROR_STOP=1'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    if (extra.stdinFirst !== undefined) this.child.stdin.write(extra.stdinFirst);
    if (extra.cleanup) this.child.once('close', extra.cleanup);
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => {
      this.out += d;
      this.waiter?.();
    });
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.err += d;
    });
    this.child.on('error', (e) => {
      this.exited = e.message;
      this.waiter?.();
    });
    this.child.on('close', (code, signal) => {
      this.exited ??= `exit ${code ?? signal}`;
      this.waiter?.();
    });
    this.child.stdin.on('error', () => undefined);
  }

  /** Runs `sql` (one or more statements); resolves with its output lines once psql has finished them. */
  async query(sql: string, timeoutMs = 60_000): Promise<string[]> {
    const mark = `__aurora_backup_${process.pid}_${++this.seq}__`;
    this.child.stdin.write(`${sql.trim().replace(/;?$/, ';')}\n\\echo ${mark}\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.out.indexOf(`${mark}\n`);
      if (at >= 0) {
        const lines = this.out
          .slice(0, at)
          .split('\n')
          .filter((l) => l.length > 0);
        this.out = this.out.slice(at + mark.length + 1);
        return lines;
      }
      if (this.exited !== undefined) {
        throw new BackupError(
          `${this.what} ended (${this.exited}) during \`${sql.split('\n')[0]!.slice(0, 80)}\`: ${this.err.trim().split('\n').slice(-4).join(' ') || 'no message'}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new BackupError(
          `${this.what} did not finish \`${sql.split('\n')[0]!.slice(0, 80)}\` within ${timeoutMs / 1000} s`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.exited !== undefined) return;
    this.child.stdin.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, 5000);
      this.child.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (this.exited !== undefined) {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}

export interface Cut {
  /** pg_dump --snapshot=<this>: PostgreSQL as it was at the cut. Valid until `finish()`. */
  snapshot: string;
  /** How long the barrier was held (credential writes waited at most this long), in ms. */
  heldMs: number;
  /** How long taking the barrier waited for writes in flight, in ms. */
  waitedMs: number;
  /** Closes the transaction that keeps the exported snapshot alive, and the session. */
  finish(): Promise<void>;
}

export interface CutOptions {
  /** Give up when writes in flight do not finish within this long (a writer stuck on an unreachable Vault). */
  lockTimeoutMs?: number;
  log?: (msg: string) => void;
}

/** Takes the barrier, exports PostgreSQL's snapshot, runs `vaultCut` (Vault's snapshot), releases the barrier. */
export async function consistentCut(
  session: PsqlSession,
  vaultCut: () => Promise<void>,
  options: CutOptions = {},
): Promise<Cut> {
  const log = options.log ?? (() => undefined);
  const lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  let locked = false;
  let done = false;
  const finish = async () => {
    if (done) return;
    done = true;
    try {
      if (locked) await session.query(BARRIER_RELEASE_SQL).catch(() => undefined);
      await session.query('ROLLBACK').catch(() => undefined);
    } finally {
      await session.close();
    }
  };
  try {
    const t0 = Date.now();
    await session.query(`SET lock_timeout = ${Math.round(lockTimeoutMs)}`);
    try {
      await session.query(BARRIER_EXCLUSIVE_SQL, lockTimeoutMs + 10_000);
    } catch (err) {
      throw new BackupError(
        `the app's credential writes in flight did not finish within ${lockTimeoutMs / 1000} s (is Vault reachable for the app?); nothing was backed up. ${(err as Error).message}`,
      );
    }
    locked = true;
    const heldFrom = Date.now();
    const [snapshot] = await session.query(
      'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;\nSELECT pg_export_snapshot()',
    );
    if (!snapshot || !/^[0-9A-F-]+$/i.test(snapshot))
      throw new BackupError(`PostgreSQL exported no usable snapshot (${JSON.stringify(snapshot)})`);
    await vaultCut();
    await session.query(BARRIER_RELEASE_SQL);
    locked = false;
    const heldMs = Date.now() - heldFrom;
    log(
      `cut: Vault's snapshot and PostgreSQL's taken together; credential writes waited at most ${heldMs} ms (after ${heldFrom - t0} ms for the writes in flight)`,
    );
    return { snapshot, heldMs, waitedMs: heldFrom - t0, finish };
  } catch (err) {
    await finish();
    throw err;
  }
}
