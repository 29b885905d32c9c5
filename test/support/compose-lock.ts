/**
 * One compose e2e file at a time on this machine: they share fixed container names (vault, vault-init,
 * vault-agent) and host ports (8200, 8080), and scripts/run-tests.sh runs two test files in parallel.
 * A directory lock in the temp dir (mkdir is atomic), holding the owner's pid; a lock whose owner is gone is
 * taken over.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pidAlive } from '@aurora/process';

const LOCK = path.join(os.tmpdir(), 'aurora-e2e-compose.lock');

/** Waits until this process holds the lock; returns the function that releases it. */
export async function acquireComposeLock(what: string, timeoutMs: number): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      fs.writeFileSync(path.join(LOCK, 'pid'), String(process.pid));
      return () => {
        try {
          if (fs.readFileSync(path.join(LOCK, 'pid'), 'utf8').trim() === String(process.pid))
            fs.rmSync(LOCK, { recursive: true, force: true });
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner: number | undefined;
    try {
      owner = Number(fs.readFileSync(path.join(LOCK, 'pid'), 'utf8').trim()) || undefined;
    } catch {
      owner = undefined;
    }
    const age = (() => {
      try {
        return Date.now() - fs.statSync(LOCK).mtimeMs;
      } catch {
        return 0;
      }
    })();
    if ((owner !== undefined && !pidAlive(owner)) || (owner === undefined && age > 60_000)) {
      fs.rmSync(LOCK, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what}: another compose e2e (pid ${owner ?? '?'}) still holds ${LOCK} after ${Math.round(timeoutMs / 1000)} s`,
      );
    if (!announced) {
      process.stderr.write(`[${what}] waiting for another compose e2e (pid ${owner ?? '?'}) to finish\n`);
      announced = true;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
