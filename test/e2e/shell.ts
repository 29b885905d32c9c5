/**
 * What both compose e2e files need to run commands as a user types them: a shell line in the checkout (its
 * whole process group killed on timeout), `must` with the output's tail, plain `docker`, and the leftovers of
 * a compose project (found by its labels).
 */
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '@aurora/process';
import { acquireComposeLock } from '../support/compose-lock.js';

export const MIN = 60_000;

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a shell command line exactly as a user would type it; output goes to stderr as it comes (progress). */
export function sh(line: string, env: NodeJS.ProcessEnv, timeoutMs: number, echo = false): Promise<Result> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', line], {
      cwd: repoRoot(),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (echo) process.stderr.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (echo) process.stderr.write(d);
    });
    // The whole process group: make, compose and their children.
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({
        status,
        stdout,
        stderr: status === null ? `${stderr}\n(killed after ${timeoutMs} ms)` : stderr,
        ms: Date.now() - t0,
      });
    });
  });
}

export function must(r: Result, what: string): Result {
  if (r.status !== 0) {
    const tail = (s: string) => s.split('\n').slice(-40).join('\n');
    assert.fail(`${what} exited ${r.status}\n--- stdout ---\n${tail(r.stdout)}\n--- stderr ---\n${tail(r.stderr)}`);
  }
  return r;
}

export function docker(args: string[]): { status: number | null; stdout: string } {
  const r = spawnSync('docker', args, { encoding: 'utf8', timeout: MIN });
  return { status: r.status, stdout: r.stdout ?? '' };
}

export const engineAnswers = (): boolean => docker(['info']).status === 0;
export const lines = (s: string): string[] =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** Containers, volumes and networks labelled with a compose project. */
export function leftovers(project: string): { containers: string[]; volumes: string[]; networks: string[] } {
  const label = `label=com.docker.compose.project=${project}`;
  return {
    containers: lines(docker(['ps', '-a', '-q', '--filter', label]).stdout),
    volumes: lines(docker(['volume', 'ls', '-q', '--filter', label]).stdout),
    networks: lines(docker(['network', 'ls', '-q', '--filter', label]).stdout),
  };
}

/**
 * Removes what `leftovers` finds: a compose project's containers (with their anonymous volumes), volumes and networks.
 */
export function removeProject(project: string): void {
  const l = leftovers(project);
  if (l.containers.length) docker(['rm', '-f', '-v', ...l.containers]);
  if (l.volumes.length) docker(['volume', 'rm', '-f', ...l.volumes]);
  if (l.networks.length) docker(['network', 'rm', ...l.networks]);
}

/**
 * The Docker engine one compose e2e file runs on. `make test` starts one before the tests; a direct run of a
 * file starts it here (scripts/ensure-docker.sh) and stops it when the file is done (scripts/stop-docker.sh).
 * The files run one at a time (test/support/compose-lock.ts) but start together, so the engine one of them
 * started may be stopped by the time the other holds the lock: `ensure` is called again then, and starts it anew.
 */
export class Engine {
  private started = false;
  constructor(private readonly session: string) {}

  /** Makes sure an engine answers, starting one when none does; undefined, or why there is none. */
  ensure(): string | undefined {
    if (engineAnswers()) return undefined;
    const r = spawnSync('bash', [path.join(repoRoot(), 'scripts/ensure-docker.sh')], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, AURORA_DOCKER_SESSION: this.session },
      timeout: 5 * MIN,
    });
    if (r.status === 0 && engineAnswers()) {
      this.started = true;
      return undefined;
    }
    return 'no Docker engine answers and scripts/ensure-docker.sh could not start one (see its message above)';
  }

  /** Stops the engine if this file started it (never one that `make test` or the user started). */
  stopIfStarted(): void {
    if (!this.started) return;
    spawnSync('bash', [path.join(repoRoot(), 'scripts/stop-docker.sh')], {
      stdio: 'inherit',
      env: { ...process.env, AURORA_DOCKER_SESSION: this.session },
    });
    this.started = false;
  }
}

/**
 * Registers, in the calling describe, the before hook that waits for this file's turn on the Docker engine and
 * then checks the engine: the compose e2e files share container names and ports, so one runs at a time
 * (compose-lock.ts; run-tests.sh runs two files at once). `what` names the waiter in the lock's messages. Returns
 * the release, for the file's last after hook. Without an engine (`skipReason`) nothing is waited for.
 */
export function takeComposeTurn(what: string, engine: Engine, skipReason: string | undefined): () => void {
  let release: (() => void) | undefined;
  before(
    async () => {
      if (skipReason) return;
      release = await acquireComposeLock(what, 40 * MIN);
      const gone = engine.ensure();
      if (gone) assert.fail(gone);
    },
    { timeout: 41 * MIN },
  );
  return () => release?.();
}
