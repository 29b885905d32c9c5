/**
 * The bench results' shape and the performance targets, checked against them. Shared by bench/run.ts (the
 * table it prints) and scripts/update-figures.ts (docs/performance.md and the README's headline figures).
 *
 * The targets are ratios against raw Vault measured in the same run, because the app, Vault and PostgreSQL share
 * the same two cores: the app's own cost per request must be a fraction of the Vault work it fronts.
 */
import type { Cell } from './load.js';

export const CONCURRENCIES = [1, 8, 32] as const;

/** One cell per concurrency; `cpuCores` is the CPU each process used during the cell, in cores. */
export type Series = Record<string, Cell & { cpuCores?: Record<string, number> }>;

export interface BenchResults {
  timestamp: string;
  machine: {
    cpus: number;
    cpuModel: string;
    /** The Node the apps and the floors ran on (the production images'); older results: the host's, for all. */
    node: string;
    /**
     * The Node of the bench itself: the load generator, vault-init and the in-process resolver figure. Absent in older
     * results.
     */
    loadGeneratorNode?: string;
    vault: string;
    loadAvgAtStart: number[];
    loadAvgAtEnd?: number[];
  };
  durationS: number;
  /**
   * Who the app is to PostgreSQL: `leased`, users from Vault's database secrets engine (aurora-app), as compose and
   * `make native` run it; absent in results from before that wiring, when it was the cluster's superuser.
   */
  databaseUsers?: 'leased';
  raw: { read: Series; write: Series };
  app: { resolveMiss: Series; resolveHit: Series; write: Series };
  /**
   * bench/floor-proxy.ts under the cache-miss resolve load: a bare node:http proxy to the same Vault reads (no
   * framework, no auth, no log), what any Node process in front of Vault pays here. Absent in older results.
   */
  floor?: Series;
  /**
   * bench/floor-proxy.ts under the credential write load: the app's write (locks and row read, Vault write, upsert,
   * COMMIT) on bare node:http and pg, what a crash-safe write pays here before the app's own work. Absent in older
   * results.
   */
  floorWrite?: Series;
  resolver: { lookupsPerSecond: number; keys: number; missLookupsPerSecond: number };
  vaultInit: {
    /**
     * Fresh Vault: sum of vault-init's own step durations after Vault's API answered (initialize, unseal, verify,
     * configure).
     */
    freshMs: number;
    freshSteps: Record<string, number>;
    /** Vault restarted (sealed, initialized), vault-init --once: the same sum. */
    restartMs: number;
    restartSteps: Record<string, number>;
    /** Same, wall clock of the whole vault-init process (node start included). */
    restartProcessMs: number;
    /** vault-init in watch mode, Vault killed -9 and started again: API answering -> unsealed and active. */
    reunsealMs: number[];
    /** The same moment -> the app's resolve answers 200 again (no app restart). */
    appRecoveryMs: number[];
  };
  rss: { missAppMaxMb: number; hitAppMaxMb: number; idleMb: number };
  /** Single cells (concurrency 32) against an app started with a different setting, to test an explanation. */
  experiments?: Record<string, Experiment>;
  /** CPU profiles of the app (`node --cpu-prof`): a cache-miss resolve load and a write load. */
  profiles?: ProfileSummary[];
  /** BENCH_COMPOSE=1: the compose stack on the offline images (bench/compose.ts). */
  compose?: { upToHealthyMs: number; upToRoundTripMs: number; warmupMs: number } | { error: string };
}

export interface Sample {
  rps: number;
  p50Ms: number;
  rssMaxMb?: number;
  cpuCores: Record<string, number>;
}

/** Contenders measured interleaved at the same concurrency, differing in one setting. */
export interface Experiment {
  /** What differs (an env var, the audit device). */
  what: string;
  concurrency: number;
  samples: Record<string, Sample>;
}

export interface ProfileSummary {
  cell: string;
  totalMs: number;
  /** Self time by area, in % of the profiled process's samples. */
  areas: Record<string, number>;
  topFunctions: Array<{ name: string; where: string; selfPct: number }>;
}

export interface TargetCheck {
  id: string;
  what: string;
  target: string;
  measured: string;
  met: boolean;
}

const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

export function checkTargets(r: BenchResults): TargetCheck[] {
  const out: TargetCheck[] = [];
  const raw1 = r.raw.read['1'];
  const miss1 = r.app.resolveMiss['1'];
  if (raw1 && miss1) {
    out.push({
      id: 'resolve-miss-p50-c1',
      what: 'resolve, cache miss, p50 at concurrency 1',
      target: `≤ raw p50 + 0.6 ms (${fmt(raw1.p50Ms + 0.6, 3)} ms)`,
      measured: `${fmt(miss1.p50Ms, 3)} ms (raw ${fmt(raw1.p50Ms, 3)} ms)`,
      met: miss1.p50Ms <= raw1.p50Ms + 0.6,
    });
  }
  for (const c of ['8', '32']) {
    const raw = r.raw.read[c];
    const miss = r.app.resolveMiss[c];
    if (raw && miss) {
      const ratio = miss.rps / raw.rps;
      out.push({
        id: `resolve-miss-c${c}`,
        what: `resolve, cache miss, throughput at concurrency ${c}`,
        target: '≥ 0.6 × raw read',
        measured: `${fmt(ratio)} × (${miss.rps} vs ${raw.rps} req/s)`,
        met: ratio >= 0.6,
      });
    }
  }
  for (const c of CONCURRENCIES.map(String)) {
    const raw = r.raw.read[c];
    const hit = r.app.resolveHit[c];
    if (raw && hit) {
      const ratio = hit.rps / raw.rps;
      out.push({
        id: `resolve-hit-c${c}`,
        what: `resolve, cache hit, throughput at concurrency ${c}`,
        target: '≥ 1.5 × raw read',
        measured: `${fmt(ratio)} × (${hit.rps} vs ${raw.rps} req/s)`,
        met: ratio >= 1.5,
      });
    }
  }
  for (const c of ['8', '32']) {
    const rawW = r.raw.write[c];
    const appW = r.app.write[c];
    if (rawW && appW) {
      const ratio = appW.rps / rawW.rps;
      out.push({
        id: `write-c${c}`,
        what: `credential write (Vault + PostgreSQL), throughput at concurrency ${c}`,
        target: '≥ 0.55 × raw write',
        measured: `${fmt(ratio)} × (${appW.rps} vs ${rawW.rps} req/s)`,
        met: ratio >= 0.55,
      });
    }
  }
  // CPU per cache-miss resolve at concurrency 8: with both cores busy, throughput is the inverse of this.
  const miss8 = r.app.resolveMiss['8'];
  const cpuMs = (k: string) =>
    miss8?.cpuCores?.[k] !== undefined && miss8.rps > 0 ? ((miss8.cpuCores[k] as number) * 1000) / miss8.rps : NaN;
  if (miss8?.cpuCores) {
    for (const [k, limit] of [
      ['app', 0.35],
      ['postgres', 0.05],
    ] as const) {
      out.push({
        id: `resolve-miss-cpu-${k}`,
        what: `${k === 'app' ? 'app' : 'PostgreSQL'} CPU per cache-miss resolve, concurrency 8`,
        target: `≤ ${limit} ms`,
        measured: `${fmt(cpuMs(k))} ms`,
        met: cpuMs(k) <= limit,
      });
    }
  }
  const raw8 = r.raw.read['8'];
  if (raw8) {
    const ratio = r.resolver.lookupsPerSecond / raw8.rps;
    out.push({
      id: 'resolver-in-process',
      what: 'resolver cache hit, in process',
      target: '≥ 50 × raw read at 8 and ≥ 500 k lookups/s',
      measured: `${fmt(ratio, 0)} × (${Math.round(r.resolver.lookupsPerSecond / 1000)} k lookups/s)`,
      met: ratio >= 50 && r.resolver.lookupsPerSecond >= 500_000,
    });
  }
  out.push({
    id: 'vault-init-fresh',
    what: 'vault-init, fresh: API answering → unsealed + configured',
    target: '≤ 1 s',
    measured: `${r.vaultInit.freshMs} ms`,
    met: r.vaultInit.freshMs <= 1000,
  });
  out.push({
    id: 'vault-init-restart',
    what: 'vault-init, restart: API answering → unsealed + configured',
    target: '≤ 1 s',
    measured: `${r.vaultInit.restartMs} ms (process ${r.vaultInit.restartProcessMs} ms)`,
    met: r.vaultInit.restartMs <= 1000,
  });
  const reunseal = Math.max(...r.vaultInit.reunsealMs);
  out.push({
    id: 're-unseal',
    what: 're-unseal after a Vault restart (watch mode), worst of runs',
    target: '≤ 2 s',
    measured: `${reunseal} ms (runs: ${r.vaultInit.reunsealMs.join(', ')})`,
    met: reunseal <= 2000,
  });
  const rss = Math.max(r.rss.missAppMaxMb, r.rss.hitAppMaxMb);
  out.push({
    id: 'app-rss',
    what: 'app RSS under load (max of both apps)',
    target: '≤ 120 MB',
    measured: `${fmt(rss, 1)} MB`,
    met: rss <= 120,
  });
  return out;
}
