/**
 * `make bench`: the app against raw Vault, in one run, on one Vault.
 *
 * Starts what the tests start (@aurora/process's stack.ts: Vault, PostgreSQL, vault-init --once, the app logging
 * in with its AppRole), a second app on the same Vault and PostgreSQL with the cache on, then measures with
 * autocannon (keep-alive, loopback, fixed time per cell; raw and app runs interleaved in slices, so that each
 * ratio compares runs made at the same moments on a machine whose other load drifts):
 *   raw KV v2 read and write with the app's own AppRole token, at concurrency 1, 8, 32 (the ceiling);
 *   the app's resolve, cache miss (CACHE_TTL_SECONDS=0) and cache hit, and credential writes, as ratios;
 *   the floor: a bare node:http proxy to the same Vault reads and, with pg, the same writes (bench/floor-proxy.ts);
 *   the resolver module's cache hits in process (lookups/s);
 *   vault-init: fresh and restart (API answering -> unsealed + configured), re-unseal after kill -9 in watch mode;
 *   the apps' RSS under load; CPU profiles of the app under cache-miss resolves and under writes, and three
 *   experiments against their baseline (Vault's audit device off, V8's heap defaults instead of the app's heap
 *   flags, a bigger PostgreSQL pool): the "why" of missed targets in the README.
 * Prints a table, writes bench/results/<timestamp>.json and latest.json, refreshes the README's performance
 * section. Knobs: BENCH_DURATION_S (per cell, default 5), BENCH_SLICES (default 5), BENCH_PROFILE=0 (skip
 * the profile), BENCH_README=0 (leave README.md alone), BENCH_KEEP=1 (keep the run's temp dir), BENCH_COMPOSE=1
 * (also time `make prod-local` on the offline images to healthy and to a credential round trip: bench/compose.ts;
 * BENCH_COMPOSE=only adds just that to bench/results/latest.json). For measuring one change quickly:
 * BENCH_ONLY=miss,hit,floor,write,variant (any of them: cache-miss resolve, cache-hit resolve, the floor proxy
 * (its writes too, with write), credential write, each with its raw Vault contender; variant: cache-miss
 * resolves on the default app and on a second app, interleaved, see below) measures only those, at
 * BENCH_CONCURRENCIES (default 1,8,32), prints each cell with the CPU per request and the app's RSS, profiles the miss
 * and write loads unless BENCH_PROFILE=0, and writes no results. The variant's second app differs from the first
 * by what these say: BENCH_VARIANT, space-separated KEY=VALUE pairs added to its environment (default
 * LOG_LEVEL=warn: no audit line, when neither of the others is set); BENCH_VARIANT_NODE_FLAGS, node flags instead of
 * APP_NODE_FLAGS ("" = none; a V8 flag in NODE_OPTIONS loses to the same flag in APP_NODE_FLAGS);
 * BENCH_VARIANT_APP, another checkout's services/app/dist/main.js (built), to compare two builds on one stack.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { APP_NODE_FLAGS, createLogger, VaultClient } from '@aurora/common';
import {
  CredentialsStack,
  AppProcess,
  appDist,
  freePort,
  repoRoot,
  spawnServer,
  stopProcess,
  tempDir,
  waitFor,
  WaitFailed,
  pinnedVaultVersion,
  VaultInitProcess,
} from '@aurora/process';
import { CredentialResolver } from '@aurora/app/credentials/resolver';
import { VaultSession } from '@aurora/app/vault/session';
import { Accumulator, measure, round, slice, summarize, warm, type Cell, type Target } from './load.js';
import { cpuSeconds, rssMb, sampleRss } from './procstat.js';
import { CONCURRENCIES, checkTargets, type BenchResults, type ProfileSummary, type Series } from './targets.js';
import { summarizeProfile } from './profile.js';
import { measureCompose } from './compose.js';
import { updateFigures } from '../scripts/update-figures.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
/**
 * The Node the apps and the floor run on: the production images' (scripts/ensure-production-node.sh), which is what
 * users run, and whose V8 differs from the host's in what costs what.
 */
const APP_NODE = execFileSync(path.join(repoRoot(), 'scripts', 'ensure-production-node.sh'), {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
}).trim();
const SLICES = Number(process.env.BENCH_SLICES ?? 5);
const PROFILE = process.env.BENCH_PROFILE !== '0';
const README = process.env.BENCH_README !== '0';
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((x) => x.trim())) : undefined;
const LEVELS: readonly number[] = process.env.BENCH_CONCURRENCIES
  ? process.env.BENCH_CONCURRENCIES.split(',').map(Number)
  : CONCURRENCIES;
/**
 * BENCH_VARIANT_APP as an absolute path (the app runs with a temp dir as its working directory, where a relative path
 * would not resolve), checked before anything starts.
 */
const VARIANT_APP = ((spec: string | undefined): string | undefined => {
  if (!spec) return undefined;
  const file = path.resolve(spec);
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
    process.stderr.write(
      `bench: BENCH_VARIANT_APP=${spec}: no such file (${file}). Give another checkout's built app, ` +
        '<checkout>/services/app/dist/main.js (npx tsc --build there first).\n',
    );
    process.exit(2);
  }
  return file;
})(process.env.BENCH_VARIANT_APP);
/** BENCH_VARIANT's "KEY=VALUE KEY2=VALUE2" as an environment; a pair without "=" is refused. */
function parseVariant(spec: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of spec.trim().split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`BENCH_VARIANT: "${pair}" is not KEY=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}
const USER = 'bench';
const VALUE = { token: 'bench-value-0123456789abcdef0123456789abcdef' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

/** vault-init's "step <name> done" lines → {name: durationMs}. */
function stepsOf(output: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of output.split('\n')) {
    const m = /"step":"([a-z-]+)"/.exec(line);
    const d = /"durationMs":(\d+)/.exec(line);
    if (m && d) out[m[1] as string] = (out[m[1] as string] ?? 0) + Number(d[1]);
  }
  return out;
}

/** From Vault's API answering to unsealed + configured: every step but the wait and the banner. */
function afterApi(steps: Record<string, number>): number {
  return Object.entries(steps)
    .filter(([k]) => k !== 'wait' && k !== 'banner')
    .reduce((a, [, v]) => a + v, 0);
}

interface CpuCell extends Cell {
  cpuCores: Record<string, number>;
  rssMaxMb?: number;
}

interface Pids {
  vault?: number;
  postgres?: number;
  app?: number;
}

interface Contender {
  name: string;
  target: Target;
  pids: Pids;
}

function cpuNow(pids: Pids): Record<string, number> {
  const bench = process.cpuUsage();
  return {
    vault: cpuSeconds(pids.vault),
    postgres: cpuSeconds(pids.postgres, true),
    ...(pids.app ? { app: cpuSeconds(pids.app) } : {}),
    loadgen: (bench.user + bench.system) / 1e6,
  };
}

/**
 * Measures `contenders` at concurrency `c`, interleaved: SLICES rounds, each giving every contender
 * DURATION_S / SLICES seconds in turn, so that a ratio compares runs made at the same moments (the machine's
 * other load drifts; a raw run a minute before the app's would not be a fair ceiling).
 */
async function group(contenders: Contender[], c: number): Promise<CpuCell[]> {
  for (const k of contenders) await warm(k.target, c, Math.min(1, DURATION_S / 5));
  const accs = contenders.map(() => new Accumulator());
  const cpu = contenders.map(() => ({}) as Record<string, number>);
  const rss = contenders.map(() => Number.NaN);
  for (let s = 0; s < SLICES; s++) {
    for (const [i, k] of contenders.entries()) {
      const before = cpuNow(k.pids);
      const sampler = k.pids.app ? sampleRss(k.pids.app) : undefined;
      await slice(k.target, c, DURATION_S / SLICES, accs[i] as Accumulator);
      const after = cpuNow(k.pids);
      if (sampler) rss[i] = Math.max(Number.isNaN(rss[i] as number) ? 0 : (rss[i] as number), sampler.stop());
      for (const key of Object.keys(after))
        (cpu[i] as Record<string, number>)[key] =
          ((cpu[i] as Record<string, number>)[key] ?? 0) + (after[key] as number) - (before[key] as number);
    }
  }
  return contenders.map((k, i) => {
    const acc = accs[i] as Accumulator;
    const result = summarize(acc, c);
    const cpuCores = Object.fromEntries(
      Object.entries(cpu[i] as Record<string, number>).map(([key, v]) => [key, round(v / acc.elapsedS, 2)]),
    );
    const out: CpuCell = { ...result, cpuCores };
    if (!Number.isNaN(rss[i])) out.rssMaxMb = round(rss[i] as number, 1);
    log(
      `${k.name.padEnd(14)} c=${String(c).padStart(2)}${out.rssMaxMb !== undefined ? `  rss ${out.rssMaxMb} MB` : ''}  ${String(result.rps).padStart(6)} req/s  p50 ${result.p50Ms.toFixed(3)} ms  p99 ${result.p99Ms.toFixed(3)} ms` +
        `  non2xx ${result.non2xx}  errors ${result.errors}  cpu ${JSON.stringify(cpuCores)}` +
        `  cpu ms/request ${JSON.stringify(Object.fromEntries(Object.entries(cpuCores).map(([key, v]) => [key, round((v * 1000) / Math.max(1, result.rps), 3)])))}`,
    );
    if (result.ok === 0)
      throw new Error(
        `${k.name} at concurrency ${c}: no 2xx answer (non-2xx ${result.non2xx}, errors ${result.errors})`,
      );
    return out;
  });
}

/** Every concurrency for a set of contenders; returns one Series per contender, in order. */
async function compare(contenders: Contender[]): Promise<Series[]> {
  const out = contenders.map(() => ({}) as Series);
  for (const c of LEVELS) {
    const cells = await group(contenders, c);
    cells.forEach((cell, i) => {
      (out[i] as Series)[String(c)] = cell;
    });
  }
  return out;
}

/** Lookups per second of resolver.resolve() on cached references, awaited one by one as a caller would. */
async function resolverLookups(resolver: CredentialResolver, refs: string[], seconds: number): Promise<number> {
  for (const r of refs) await resolver.resolve(r);
  let n = 0;
  const started = process.hrtime.bigint();
  const until = started + BigInt(Math.round(seconds * 1e9));
  const mask = refs.length - 1;
  for (;;) {
    for (let i = 0; i < 10_000; i++) await resolver.resolve(refs[(n + i) & mask] as string);
    n += 10_000;
    const now = process.hrtime.bigint();
    if (now >= until) return n / (Number(now - started) / 1e9);
  }
}

/** Resolves with the cache off through the same module, 8 at a time: its own Vault-bound rate. */
async function resolverMisses(resolver: CredentialResolver, ref: string, seconds: number): Promise<number> {
  let n = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (Date.now() - started < seconds * 1000) {
        await resolver.resolve(ref);
        n++;
      }
    }),
  );
  return n / ((Date.now() - started) / 1000);
}

/** One profiled load: what it is called, the file it is kept as, and its target on a given app URL. */
interface ProfileLoad {
  label: string;
  slug: string;
  makeTarget: (url: string) => Target;
}

/**
 * Credential writes through the app (or the floor, without `authorization`) at `url`: `body` PUT to a new
 * credential of `user` each time (w0, w1, …), so no write waits on another's lock.
 */
function credentialWriteAt(url: string, user: string, body: string, authorization?: string): Target {
  return {
    url: `${url}/users/${user}/credentials/w0`,
    method: 'PUT',
    headers: { ...(authorization ? { authorization } : {}), 'content-type': 'application/json' },
    body,
    path: (n) => `/users/${user}/credentials/w${n}`,
  };
}

/** The profiled loads: cache-miss resolves and credential writes, at concurrency 8. */
function profileLoads(
  resolveAt: (url: string) => Target,
  auth: string,
  body: string,
): { miss: ProfileLoad; write: ProfileLoad } {
  return {
    miss: { label: 'resolve miss, concurrency 8', slug: 'resolve-miss-c8', makeTarget: resolveAt },
    write: {
      label: 'credential write, concurrency 8',
      slug: 'write-c8',
      makeTarget: (url: string) => credentialWriteAt(url, 'bench-prof', body, auth),
    },
  };
}

/**
 * bench/floor-proxy.ts in a process of its own (its CPU is measured like the app's), reading and writing with
 * `token` and writing rows through `databaseUrl`; resolves once it answers a resolve path.
 */
async function startFloorProxy(
  vaultAddr: string,
  token: string,
  databaseUrl: string,
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dir = tempDir('bench-floor');
  const child = spawnServer(APP_NODE, ['--import', 'tsx', path.join(repoRoot(), 'bench', 'floor-proxy.ts')], {
    logFile: path.join(dir, 'floor.log'),
    cwd: repoRoot(),
    env: {
      PATH: process.env.PATH,
      FLOOR_PORT: String(port),
      VAULT_ADDR: vaultAddr,
      VAULT_TOKEN: token,
      DATABASE_URL: databaseUrl,
    },
  });
  await waitFor(
    'the floor proxy to answer',
    async () => {
      if (child.exitCode !== null)
        throw new WaitFailed(
          `the floor proxy exited ${child.exitCode}: ${fs.readFileSync(path.join(dir, 'floor.log'), 'utf8')}`,
        );
      const res = await fetch(`${url}/users/${USER}/credentials/k0/resolve`, { method: 'POST' }).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    },
    30_000,
    50,
  );
  // One write before the load: a floor that cannot write would otherwise show only as a cell without a 2xx.
  const probe = await fetch(`${url}/users/bench-floor/credentials/probe`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data: VALUE }),
  });
  if (probe.status !== 201)
    throw new Error(`the floor proxy's first write answered ${probe.status}: ${await probe.text()}`);
  return { url, child };
}

/**
 * A CPU profile (`node --cpu-prof`) of a fresh app, started with `like`'s environment, under each load in turn
 * for DURATION_S at concurrency 8; each .cpuprofile is kept in the OS temp dir for Chrome DevTools.
 */
async function profileApp(like: AppProcess, loads: ProfileLoad[]): Promise<ProfileSummary[]> {
  const profiles: ProfileSummary[] = [];
  for (const { label, slug, makeTarget } of loads) {
    const profDir = tempDir('bench-cpu-prof');
    // --cpu-prof is not allowed in NODE_OPTIONS: the profiled app is started with the flag on its command line.
    const port = await freePort();
    const profUrl = `http://127.0.0.1:${port}`;
    const child = spawnServer(APP_NODE, [...APP_NODE_FLAGS, '--cpu-prof', `--cpu-prof-dir=${profDir}`, appDist()], {
      logFile: path.join(profDir, 'app.log'),
      cwd: profDir,
      env: { ...like.fullEnv(), PORT: String(port), METRICS_PORT: '0' },
    });
    await waitFor(
      'the profiled app to be ready',
      async () => {
        if (child.exitCode !== null)
          throw new WaitFailed(
            `the profiled app exited ${child.exitCode}: ${fs.readFileSync(path.join(profDir, 'app.log'), 'utf8').slice(-2000)}`,
          );
        const res = await fetch(`${profUrl}/readyz`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      30_000,
      50,
    );
    await measure(makeTarget(profUrl), 8, DURATION_S);
    await stopProcess(child);
    const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) {
      log(`profile ${label}: the profiled app wrote no .cpuprofile`);
      continue;
    }
    const summary = summarizeProfile(JSON.parse(fs.readFileSync(path.join(profDir, file), 'utf8')), label);
    profiles.push(summary);
    // Kept outside the repository (a few hundred KB per run); open it in Chrome DevTools.
    const keep = path.join(os.tmpdir(), `aurora-bench-${slug}.cpuprofile`);
    fs.copyFileSync(path.join(profDir, file), keep);
    log(`profile ${label}: ${JSON.stringify(summary.areas)} (full profile: ${keep})`);
    log(
      `profile ${label}, top functions: ${summary.topFunctions.map((f) => `${f.name} ${f.where} ${f.selfPct}%`).join('; ')}`,
    );
  }
  return profiles;
}

async function main(): Promise<void> {
  // All state of this run in one temp dir, removed at the end (as scripts/run-tests.sh does for tests).
  const ownRoot = process.env.AURORA_TEST_ROOT === undefined;
  if (ownRoot) {
    process.env.AURORA_TEST_ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'aurora-bench-'));
    fs.chmodSync(process.env.AURORA_TEST_ROOT, 0o755); // PostgreSQL runs as its own user when we are root
  }
  try {
    // BENCH_COMPOSE=only: add the compose figures to the latest results, without measuring the rest again.
    const composeOnly = process.env.BENCH_COMPOSE === 'only';
    const results = composeOnly
      ? (JSON.parse(fs.readFileSync(path.join(repoRoot(), 'bench', 'results', 'latest.json'), 'utf8')) as BenchResults)
      : await bench();
    if (!results) return; // BENCH_ONLY: printed, not saved
    if (!composeOnly) save(results);
    if (process.env.BENCH_COMPOSE === '1' || composeOnly) {
      // After the process stack is gone: the compose stack gets the machine to itself.
      try {
        results.compose = await measureCompose(log);
        log(
          `compose: healthy after ${results.compose.upToHealthyMs} ms, first round trip after ${results.compose.upToRoundTripMs} ms`,
        );
      } catch (err) {
        results.compose = { error: (err as Error).message.slice(0, 500) };
        log(`compose: not measured: ${results.compose.error}`);
      }
      save(results, false);
    }
  } finally {
    if (ownRoot && process.env.BENCH_KEEP !== '1')
      fs.rmSync(process.env.AURORA_TEST_ROOT as string, { recursive: true, force: true });
  }
}

async function bench(): Promise<BenchResults | undefined> {
  const loadAvgAtStart = os.loadavg().map((x) => round(x, 2));
  log(`starting Vault, PostgreSQL, vault-init and the app (load average ${loadAvgAtStart.join(' ')})`);
  const stack = await CredentialsStack.start({
    clients: [
      { id: 'admin', permissions: { admin: true } },
      { id: USER, permissions: { credentials: ['read', 'write', 'delete', 'resolve'], users: ['*'] } },
    ],
    // The cache-miss app: every resolve reads PostgreSQL and Vault. Production log level.
    env: { CACHE_TTL_SECONDS: '0', LOG_LEVEL: 'info' },
    // Production's database wiring: the app's pool on users leased from Vault, never the superuser.
    leasedDatabaseUsers: true,
    appNode: APP_NODE,
  });
  const extraApps: AppProcess[] = [];
  const watchers: VaultInitProcess[] = [];
  const extraStops: Array<() => Promise<unknown>> = [];
  try {
    const freshSteps = stepsOf(stack.vaultInitLogs[0] ?? '');
    const missApp = stack.app;
    const hitApp = await AppProcess.start({ ...missApp.env, CACHE_TTL_SECONDS: '60' }, tempDir('bench-app-hit'), {
      node: APP_NODE,
    });
    extraApps.push(hitApp);
    await hitApp.waitReady();
    const auth = basic(USER, stack.clientSecrets.get(USER) as string);

    // The secret both the raw reads and the resolves read: one credential written through the app.
    const put = await stack.request('PUT', `/users/${USER}/credentials/api`, { auth: USER, body: { data: VALUE } });
    if (put.status !== 201) throw new Error(`seeding the bench credential failed: ${put.status} ${put.text}`);
    const refs: string[] = [];
    for (let i = 0; i < 64; i++) {
      const res = await stack.request('PUT', `/users/${USER}/credentials/k${i}`, { auth: USER, body: { data: VALUE } });
      refs.push((res.json as { reference: string }).reference);
    }

    // Raw Vault with the app's own identity (its AppRole, its policy): the ceiling the app is held to.
    const approle = path.join(stack.initDirs.approleDir, 'app');
    const login = await new VaultClient({ addr: stack.vault.addr }).approleLogin(
      fs.readFileSync(path.join(approle, 'role_id'), 'utf8').trim(),
      fs.readFileSync(path.join(approle, 'secret_id'), 'utf8').trim(),
    );
    const vaultHeaders = { 'x-vault-token': login.token };
    /* eslint-disable no-restricted-syntax -- the raw-Vault load generator measures Vault without our client */
    // Reads rotate over the 64 credentials k0..k63 (same value each): consecutive requests in flight name
    // different secrets, so the resolver's single flight (concurrent misses of one reference share one Vault
    // read) does not merge them, and every cache-miss resolve costs one Vault read, as every raw read does.
    const rawReadAt = (addr: string): Target => ({
      url: `${addr}/v1/aurora/data/users/${USER}/k0`,
      method: 'GET',
      headers: vaultHeaders,
      path: (n) => `/v1/aurora/data/users/${USER}/k${n % refs.length}`,
    });
    // Writes create a new secret each, as the app's writes create a new credential each.
    const body = JSON.stringify({ data: VALUE });
    const rawWriteTarget: Target = {
      url: `${stack.vault.addr}/v1/aurora/data/users/bench-raw/w0`,
      method: 'POST',
      headers: { ...vaultHeaders, 'content-type': 'application/json' },
      body,
      path: (n) => `/v1/aurora/data/users/bench-raw/w${n}`,
    };
    /* eslint-enable no-restricted-syntax */
    const resolveAt = (url: string): Target => ({
      url: `${url}/users/${USER}/credentials/k0/resolve`,
      method: 'POST',
      headers: { authorization: auth },
      path: (n) => `/users/${USER}/credentials/k${n % refs.length}/resolve`,
    });
    const pids = { vault: stack.vault.pid, postgres: stack.postgres.pid };
    const idleMb = round(rssMb(missApp.pid), 1);
    // The floor reaches PostgreSQL as the app does: as a user leased from Vault's database engine (aurora-app),
    // with the app's own token. The lease ends with the throwaway stack.
    const floorDb = await new VaultClient({ addr: stack.vault.addr, token: login.token })
      .database()
      .credentials('aurora-app');
    const { host, port: pgPort, database } = stack.postgres;
    const floorDbUrl = `postgres://${floorDb.username}:${encodeURIComponent(floorDb.password)}@${host}:${pgPort}/${database}`;
    const floor = await startFloorProxy(stack.vault.addr, login.token, floorDbUrl);
    extraStops.push(() => stopProcess(floor.child));

    log(`measuring, ${DURATION_S} s per cell after 1 s of warm-up`);
    // The floor's writes: new credentials each, as the app's, under a user of their own.
    const floorWriteTarget = credentialWriteAt(floor.url, 'bench-floor', body);
    if (ONLY) {
      const loads = profileLoads(resolveAt, auth, body);
      if (ONLY.has('miss') || ONLY.has('hit') || ONLY.has('floor'))
        await compare([
          { name: 'raw read', target: rawReadAt(stack.vault.addr), pids },
          ...(ONLY.has('miss')
            ? [{ name: 'resolve miss', target: resolveAt(missApp.url), pids: { ...pids, app: missApp.pid } }]
            : []),
          ...(ONLY.has('hit')
            ? [{ name: 'resolve hit', target: resolveAt(hitApp.url), pids: { ...pids, app: hitApp.pid } }]
            : []),
          ...(ONLY.has('floor')
            ? [{ name: 'floor proxy', target: resolveAt(floor.url), pids: { ...pids, app: floor.child.pid } }]
            : []),
        ]);
      if (ONLY.has('write'))
        await compare([
          { name: 'raw write', target: rawWriteTarget, pids },
          { name: 'app write', target: loads.write.makeTarget(hitApp.url), pids: { ...pids, app: hitApp.pid } },
          ...(ONLY.has('floor')
            ? [{ name: 'floor write', target: floorWriteTarget, pids: { ...pids, app: floor.child.pid } }]
            : []),
        ]);
      if (ONLY.has('variant')) {
        // The same cache-miss load on the default app and on the variant (BENCH_VARIANT, BENCH_VARIANT_NODE_FLAGS,
        // BENCH_VARIANT_APP), interleaved; both apps are fresh here, so their RSS compares.
        const variantFlags = process.env.BENCH_VARIANT_NODE_FLAGS;
        const variantMain = VARIANT_APP;
        const variantEnv = parseVariant(
          process.env.BENCH_VARIANT ?? (variantFlags === undefined && !variantMain ? 'LOG_LEVEL=warn' : ''),
        );
        const variant = await AppProcess.start({ ...missApp.env, ...variantEnv }, tempDir('bench-app-variant'), {
          node: APP_NODE,
          nodeFlags: variantFlags === undefined ? undefined : variantFlags.split(/\s+/).filter(Boolean),
          main: variantMain,
        });
        extraApps.push(variant);
        await variant.waitReady();
        const label = [
          ...Object.entries(variantEnv).map(([k, v]) => `${k}=${v}`),
          ...(variantFlags === undefined ? [] : [`node ${variantFlags.trim() || 'without flags'}`]),
          ...(variantMain ? [`app ${variantMain}`] : []),
        ].join(' ');
        for (const c of LEVELS)
          await group(
            [
              { name: 'miss (default)', target: resolveAt(missApp.url), pids: { ...pids, app: missApp.pid } },
              { name: `miss (${label})`, target: resolveAt(variant.url), pids: { ...pids, app: variant.pid } },
            ],
            c,
          );
      }
      if (PROFILE)
        await profileApp(
          missApp,
          Object.entries(loads)
            .filter(([k]) => ONLY.has(k))
            .map(([, v]) => v),
        );
      return undefined;
    }
    const [rawRead, resolveMiss, resolveHit, floorProxy] = (await compare([
      { name: 'raw read', target: rawReadAt(stack.vault.addr), pids },
      { name: 'resolve miss', target: resolveAt(missApp.url), pids: { ...pids, app: missApp.pid } },
      { name: 'resolve hit', target: resolveAt(hitApp.url), pids: { ...pids, app: hitApp.pid } },
      { name: 'floor proxy', target: resolveAt(floor.url), pids: { ...pids, app: floor.child.pid } },
    ])) as [Series, Series, Series, Series];
    const [rawWrite, appWrite, floorWrite] = (await compare([
      { name: 'raw write', pids, target: rawWriteTarget },
      {
        name: 'app write',
        pids: { ...pids, app: hitApp.pid },
        target: credentialWriteAt(hitApp.url, 'bench-app', body, auth),
      },
      { name: 'floor write', target: floorWriteTarget, pids: { ...pids, app: floor.child.pid } },
    ])) as [Series, Series, Series];

    // Two experiments that test the explanations of misses (README), each interleaved with its baseline: V8's heap
    // defaults instead of the app's heap flags for the RSS, a larger PostgreSQL pool for writes.
    const experiments: NonNullable<BenchResults['experiments']> = {};
    const sample = (c: CpuCell) => ({
      rps: c.rps,
      p50Ms: c.p50Ms,
      ...(c.rssMaxMb !== undefined ? { rssMaxMb: c.rssMaxMb } : {}),
      cpuCores: c.cpuCores,
    });
    // The app's heap flags (APP_NODE_FLAGS) against V8's defaults: the RSS they save, the throughput they cost.
    for (const [name, env, kind, nodeFlags] of [
      ['V8 heap defaults', { CACHE_TTL_SECONDS: '60' }, 'resolve hit', []],
      ['PG_POOL_SIZE=40', { PG_POOL_SIZE: '40', CACHE_TTL_SECONDS: '60' }, 'app write', undefined],
    ] as Array<[string, Record<string, string>, 'resolve hit' | 'app write', readonly string[] | undefined]>) {
      const app = await AppProcess.start({ ...missApp.env, ...env }, tempDir('bench-app-exp'), {
        nodeFlags,
        node: APP_NODE,
      });
      extraApps.push(app);
      await app.waitReady();
      const targetOf = (url: string): Target =>
        kind === 'resolve hit' ? resolveAt(url) : credentialWriteAt(url, 'bench-exp', body, auth);
      const [base, variant] = (await group(
        [
          { name: `${kind} (default)`, target: targetOf(hitApp.url), pids: { ...pids, app: hitApp.pid } },
          { name: `${kind} (${name})`, target: targetOf(app.url), pids: { ...pids, app: app.pid } },
        ],
        32,
      )) as [CpuCell, CpuCell];
      const setting = nodeFlags
        ? `node without ${APP_NODE_FLAGS.join(' ')}`
        : Object.entries(env)
            .filter(([k]) => k !== 'CACHE_TTL_SECONDS')
            .map(([k, v]) => `${k}=${v}`)
            .join(' ');
      experiments[name] = {
        what: `${setting}, ${kind}`,
        concurrency: 32,
        samples: { default: sample(base), [name]: sample(variant) },
      };
      await app.stop();
    }

    // The resolver module itself, in this process: cache hits, and (cache off) its Vault-bound rate.
    const logger = createLogger('bench', { level: 'error' });
    const session = new VaultSession({
      addr: stack.vault.addr,
      token: login.token,
      approleDir: approle,
      timeoutMs: 3000,
      logger,
    });
    const cached = new CredentialResolver(session, {
      mount: 'aurora',
      base: 'users',
      ttlSeconds: 60,
      maxEntries: 10_000,
    });
    const lookupsPerSecond = Math.round(await resolverLookups(cached, refs, Math.max(2, DURATION_S / 2)));
    const uncached = new CredentialResolver(session, {
      mount: 'aurora',
      base: 'users',
      ttlSeconds: 0,
      maxEntries: 10_000,
    });
    const missLookupsPerSecond = Math.round(
      await resolverMisses(uncached, refs[0] as string, Math.max(2, DURATION_S / 2)),
    );
    session.close();
    log(
      `resolver in process: ${lookupsPerSecond} lookups/s (cache hit), ${missLookupsPerSecond}/s (cache off, 8 at a time)`,
    );

    // Where the app's time goes, on a cache miss and on a write: a CPU profile of a fresh app under each load.
    const profiles = PROFILE ? await profileApp(missApp, Object.values(profileLoads(resolveAt, auth, body))) : [];

    // vault-init on a restart: Vault stopped and started (sealed), vault-init --once.
    await stack.vault.restart();
    const t0 = Date.now();
    await stack.runVaultInit();
    const restartProcessMs = Date.now() - t0;
    const restartSteps = stepsOf(stack.vaultInitLogs[stack.vaultInitLogs.length - 1] ?? '');
    await missApp.waitReady();

    // Re-unseal: vault-init watching, Vault killed -9 and started again, three times.
    const watcher = VaultInitProcess.start(stack.initEnv);
    watchers.push(watcher);
    await waitFor(
      'vault-init (watch mode) healthy',
      async () => {
        const res = await fetch(`http://127.0.0.1:${stack.initEnv.VAULT_INIT_HEALTH_PORT}/health`).catch(
          () => undefined,
        );
        return res?.status === 200 ? true : undefined;
      },
      30_000,
      50,
    );
    const reunsealMs: number[] = [];
    const appRecoveryMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      await stack.vault.kill();
      await stack.vault.startProcess(); // resolves once the API answers (sealed)
      const answered = Date.now();
      await waitFor(
        'Vault unsealed and active again',
        async () => {
          const h = await new VaultClient({ addr: stack.vault.addr, timeoutMs: 2000 }).health().catch(() => undefined);
          return h && h.initialized && !h.sealed && !h.standby ? true : undefined;
        },
        30_000,
        10,
      );
      reunsealMs.push(Date.now() - answered);
      await waitFor(
        'the app to resolve again',
        async () => {
          const res = await fetch(`${missApp.url}/users/${USER}/credentials/api/resolve`, {
            method: 'POST',
            headers: { authorization: auth },
          }).catch(() => undefined);
          return res?.status === 200 ? true : undefined;
        },
        30_000,
        10,
      );
      appRecoveryMs.push(Date.now() - answered);
      await sleep(300);
    }
    log(
      `vault-init: fresh ${afterApi(freshSteps)} ms, restart ${afterApi(restartSteps)} ms (process ${restartProcessMs} ms), re-unseal ${reunsealMs.join('/')} ms, app back ${appRecoveryMs.join('/')} ms`,
    );

    // Vault's file audit device (vault-init enables it; every request is HMAC'd and appended to the audit
    // log): the raw ceiling and the cache-miss ratio with it, then without it, measured back to back.
    const rootToken = (
      JSON.parse(fs.readFileSync(path.join(stack.initDirs.initDir, 'init.json'), 'utf8')) as { root_token: string }
    ).root_token;
    const pidsNow = { vault: stack.vault.pid, postgres: stack.postgres.pid }; // Vault was restarted: a new pid
    const readers: Contender[] = [
      { name: 'raw read', target: rawReadAt(stack.vault.addr), pids: pidsNow },
      { name: 'resolve miss', target: resolveAt(missApp.url), pids: { ...pidsNow, app: missApp.pid } },
    ];
    const withAudit = await group(readers, 8);
    await new VaultClient({ addr: stack.vault.addr, token: rootToken }).delete('sys/audit/file');
    const withoutAudit = await group(readers, 8);
    const [rawOn, missOn] = withAudit as [CpuCell, CpuCell];
    const [rawOff, missOff] = withoutAudit as [CpuCell, CpuCell];
    experiments['audit device'] = {
      what: "Vault's file audit device on, then off",
      concurrency: 8,
      samples: {
        'raw read, audit on': sample(rawOn),
        'resolve miss, audit on': sample(missOn),
        'raw read, audit off': sample(rawOff),
        'resolve miss, audit off': sample(missOff),
      },
    };

    const maxRss = (s: Series) => Math.max(...Object.values(s).map((c) => (c as CpuCell).rssMaxMb ?? 0));
    const results: BenchResults = {
      timestamp: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        node: execFileSync(APP_NODE, ['--version'], { encoding: 'utf8' }).trim(),
        loadGeneratorNode: process.version,
        vault: pinnedVaultVersion(),
        loadAvgAtStart,
        loadAvgAtEnd: os.loadavg().map((x) => round(x, 2)),
      },
      durationS: DURATION_S,
      databaseUsers: 'leased',
      raw: { read: rawRead, write: rawWrite },
      app: { resolveMiss, resolveHit, write: appWrite },
      floor: floorProxy,
      floorWrite,
      resolver: { lookupsPerSecond, keys: refs.length, missLookupsPerSecond },
      vaultInit: {
        freshMs: afterApi(freshSteps),
        freshSteps,
        restartMs: afterApi(restartSteps),
        restartSteps,
        restartProcessMs,
        reunsealMs,
        appRecoveryMs,
      },
      rss: { missAppMaxMb: maxRss(resolveMiss), hitAppMaxMb: Math.max(maxRss(resolveHit), maxRss(appWrite)), idleMb },
      experiments,
      ...(profiles.length ? { profiles } : {}),
    };

    return results;
  } finally {
    await Promise.allSettled(extraStops.map((stop) => stop()));
    await Promise.allSettled(watchers.map((w) => w.stop()));
    await Promise.allSettled(extraApps.map((a) => a.stop()));
    await stack.stop();
  }
}

function save(results: BenchResults, table = true): void {
  const dir = path.join(repoRoot(), 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const text = `${JSON.stringify(results, null, 2)}\n`;
  const stamped = path.join(dir, `${results.timestamp.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(stamped, text);
  fs.writeFileSync(`${path.join(dir, 'latest.json')}.tmp`, text);
  fs.renameSync(`${path.join(dir, 'latest.json')}.tmp`, path.join(dir, 'latest.json'));
  if (table) printTable(results);
  process.stdout.write(`\nwrote ${path.relative(repoRoot(), stamped)} and bench/results/latest.json\n`);
  if (README) {
    updateFigures({ performance: results });
    process.stdout.write('README.md: performance section refreshed\n');
  }
}

function printTable(r: BenchResults): void {
  const rows: string[][] = [['', 'c', 'req/s', 'p50 ms', 'p99 ms', 'vs raw', 'cpu (cores)']];
  const add = (name: string, s: Series, base?: Series) => {
    for (const c of CONCURRENCIES.map(String)) {
      const cellOf = s[c] as CpuCell | undefined;
      if (!cellOf) continue;
      const b = base?.[c];
      rows.push([
        name,
        c,
        String(cellOf.rps),
        cellOf.p50Ms.toFixed(3),
        cellOf.p99Ms.toFixed(3),
        b ? `${(cellOf.rps / b.rps).toFixed(2)} ×` : '',
        JSON.stringify(cellOf.cpuCores).replace(/[{}"]/g, ''),
      ]);
    }
  };
  add('raw read', r.raw.read);
  add('resolve miss', r.app.resolveMiss, r.raw.read);
  add('resolve hit', r.app.resolveHit, r.raw.read);
  if (r.floor) add('floor proxy', r.floor, r.raw.read);
  add('raw write', r.raw.write);
  add('app write', r.app.write, r.raw.write);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  process.stdout.write('\n');
  for (const row of rows)
    process.stdout.write(`${row.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ')}\n`);
  process.stdout.write(
    `\nresolver cache hit in process: ${r.resolver.lookupsPerSecond} lookups/s; RSS: idle ${r.rss.idleMb} MB, under load ${r.rss.missAppMaxMb} / ${r.rss.hitAppMaxMb} MB\n\n`,
  );
  const checks = checkTargets(r);
  const w = Math.max(...checks.map((c) => c.what.length));
  for (const c of checks)
    process.stdout.write(
      `${c.met ? 'met   ' : 'MISSED'}  ${c.what.padEnd(w)}  target ${c.target}; measured ${c.measured}\n`,
    );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
