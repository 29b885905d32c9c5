/**
 * The app as a real child process: `node services/app/dist/main.js` (built by `npx tsc --build`), with the
 * env a test gives it, its stdout+stderr in one log file (what `docker logs app 2>&1` shows), started in
 * a temp dir so that dotenv never picks up a developer's .env. Stop (SIGTERM), kill -9, restart.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { APP_NODE_FLAGS } from '@aurora/common';
import {
  killProcess,
  freePort,
  readIfPresent,
  repoRoot,
  spawnServer,
  stopProcess,
  tempDir,
  waitFor,
  WaitFailed,
  serviceNode,
} from './processes.js';

export function appDist(file = 'main.js'): string {
  const main = path.join(repoRoot(), 'services', 'app', 'dist', file);
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npx tsc --build\` first (make build)`);
  return main;
}

/** Only what the app needs from the test's own environment: nothing that would configure it behind our back. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  return env;
}

export class AppProcess {
  readonly url: string;
  /** GET /metrics of this app's metrics listener (METRICS_PORT). */
  readonly metricsUrl: string;
  readonly logFile: string;
  private child?: ChildProcess;

  private constructor(
    readonly env: Record<string, string>,
    readonly port: number,
    readonly dir: string,
    readonly metricsPort: number,
    /** The node flags before the main script: the app's heap sizing (APP_NODE_FLAGS) unless a bench compares. */
    readonly nodeFlags: readonly string[] = APP_NODE_FLAGS,
    /** The Node binary the app runs on: this process's unless a bench runs it on the production images' Node. */
    readonly node: string = serviceNode(),
    /** The app's entry script: this checkout's build unless a bench compares it with another checkout's. */
    readonly main: string = appDist(),
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    this.logFile = path.join(dir, 'app.log');
  }

  /**
   * Starts the app with `env` (PORT and HOST are set here) and waits until /healthz answers. `nodeFlags` replaces
   * the production heap flags (APP_NODE_FLAGS), for a bench that measures what they change; `node` is the Node
   * binary to run it on (default: this process's); `main` another build's services/app/dist/main.js, for a bench
   * that compares two builds on one stack (default: this checkout's).
   */
  static async start(
    env: Record<string, string>,
    dir = tempDir('app'),
    options: { nodeFlags?: readonly string[]; node?: string; main?: string } = {},
  ): Promise<AppProcess> {
    fs.mkdirSync(dir, { recursive: true });
    const app = new AppProcess(
      env,
      await freePort(),
      dir,
      await freePort(),
      options.nodeFlags,
      options.node,
      options.main,
    );
    await app.startProcess();
    return app;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  fullEnv(): Record<string, string> {
    return {
      ...baseEnv(),
      HOST: '127.0.0.1',
      ...this.env,
      PORT: String(this.port),
      METRICS_PORT: String(this.metricsPort),
    };
  }

  async startProcess(): Promise<void> {
    this.child = spawnServer(this.node, [...this.nodeFlags, this.main], {
      logFile: this.logFile,
      cwd: this.dir,
      env: this.fullEnv(),
    });
    const child = this.child;
    await waitFor(
      `the app on ${this.url} (log: ${this.logFile})`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new WaitFailed(`app exited (${child.exitCode ?? child.signalCode}): ${this.log().slice(-3000)}`);
        const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
        return res?.ok ? true : undefined;
      },
      30_000,
      50,
    );
  }

  /**
   * Waits for /readyz = 200 (PostgreSQL reachable, Vault unsealed, token valid). Each probe may take until the
   * deadline: on a busy machine /readyz (a Vault login and lookup, forwarded by a standby) can take seconds, and a
   * shorter per-probe limit would turn "ready, but slow to say so" into "never ready".
   */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await waitFor(
      `the app to be ready (${this.url}/readyz)`,
      async () => {
        const res = await fetch(`${this.url}/readyz`, {
          signal: AbortSignal.timeout(Math.max(1000, deadline - Date.now())),
        }).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      timeoutMs,
      100,
    );
  }

  log(): string {
    return readIfPresent(this.logFile);
  }

  /** SIGTERM, as `docker stop` sends. */
  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child);
  }

  /** kill -9: no shutdown handlers, no rollback of anything in flight. */
  async kill(): Promise<void> {
    if (this.child && this.running) await killProcess(this.child);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.startProcess();
  }

  /** Runs `node services/app/dist/doctor-main.js args` with the app's env, as `make doctor` does. */
  doctor(args: string[] = []): { code: number | null; stdout: string; stderr: string } {
    const res = spawnSync(serviceNode(), [appDist('doctor-main.js'), ...args], {
      cwd: this.dir,
      env: this.fullEnv(),
      encoding: 'utf8',
      timeout: 60_000,
    });
    fs.appendFileSync(path.join(this.dir, 'doctor.log'), `$ doctor ${args.join(' ')}\n${res.stdout}${res.stderr}`);
    return { code: res.status, stdout: res.stdout, stderr: res.stderr };
  }

  /** The same, without blocking the test's event loop (for runs that wait on a lock the test holds). */
  doctorAsync(args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(serviceNode(), [appDist('doctor-main.js'), ...args], {
      cwd: this.dir,
      env: this.fullEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    return new Promise((resolve) =>
      child.once('close', (code) => {
        clearTimeout(timer);
        fs.appendFileSync(path.join(this.dir, 'doctor.log'), `$ doctor ${args.join(' ')}\n${stdout}${stderr}`);
        resolve({ code, stdout, stderr });
      }),
    );
  }
}

/** The JSON report doctor (`--json`) prints as its last line; {} when there is none (the caller asserts on it). */
export function lastJsonLine<T>(stdout: string): Partial<T> {
  try {
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Partial<T>;
  } catch {
    return {};
  }
}

export interface TornFiles {
  code: number | null;
  /** Storage files checked, and how many of them by content too. */
  files: number;
  contentChecked: number;
  torn: Array<{ path: string; kind: 'stray' | 'truncated'; detail: string; entry?: string }>;
  output: string;
}

/**
 * The documented search for what a crash left half written in Vault's file storage (docs/operations.md, "doctor
 * says damaged"), run as written there for the native stack: `find <dataDir> -type f | scripts/doctor.sh
 * --torn-files` (AURORA_STACK=native; --json to read the answer).
 */
export function findTornFiles(dataDir: string): TornFiles {
  const res = spawnSync('sh', ['-c', 'find "$1" -type f | scripts/doctor.sh --torn-files --json', 'sh', dataDir], {
    cwd: repoRoot(),
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, AURORA_STACK: 'native' },
  });
  const output = `${res.stdout}${res.stderr}`;
  const parsed = lastJsonLine<TornFiles>(res.stdout);
  return {
    code: res.status,
    files: parsed.files ?? -1,
    contentChecked: parsed.contentChecked ?? -1,
    torn: parsed.torn ?? [],
    output,
  };
}
