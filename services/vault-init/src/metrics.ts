/**
 * vault-init's Prometheus metrics, served at GET /metrics on its health port (health.ts). Two kinds:
 *  - what vault-init did, counted where it happens with one-line calls: unseals, configure runs, drift repaired,
 *    audit log rotations;
 *  - what Vault is, read at scrape time: each node's seal status (sys/seal-status, unauthenticated), the Raft
 *    autopilot state (voters, failure tolerance, health; with the aurora-metrics token), where the audit log goes
 *    and its size (stat of the file as vault-init sees it).
 * No label or value carries a token, a key or a secret: node labels are the configured API addresses.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import client from 'prom-client';
import { VaultClient } from '@aurora/common';
import type { VaultInitConfig } from './config.js';
import { AUDIT_STDOUT, auditSlot } from './configure/audit.js';
import { METRICS_TOKEN_FILE } from './configure/metrics-token.js';
import type { Change } from './configure/types.js';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

/** Scrape-time reads must not hang a scrape: Prometheus' default scrape timeout is 10 s. */
const SCRAPE_VAULT_TIMEOUT_MS = 2000;
const TOKEN_RENEW_EVERY_MS = 60 * 60 * 1000;

const unseals = new client.Counter({
  name: 'aurora_vault_init_unseals_total',
  help: 'Unseals vault-init performed (a sealed node brought to unsealed), by node',
  labelNames: ['node'] as const,
  registers: [registry],
});

/** Counts one unseal of the node at `addr` (its API address). */
export function countUnseal(addr: string): void {
  unseals.inc({ node: addr });
}

const lastConfigure = new client.Gauge({
  name: 'aurora_vault_init_last_configure_success_timestamp_seconds',
  help: 'When configure last finished without error (Unix time, seconds)',
  registers: [registry],
});

const driftRepaired = new client.Counter({
  name: 'aurora_vault_init_configure_drift_repaired_total',
  help: 'Vault objects configure found different from the desired state and put back, by kind (policy, role, ...)',
  labelNames: ['kind'] as const,
  registers: [registry],
});

let configuredOnce = false;

/**
 * Records one successful configure run. Drift = an object that existed but differed ('updated'), or, after the
 * first run of this process, one that had disappeared ('created'); the first run's creations are set-up, not drift.
 */
export function recordConfigure(changes: Record<string, Change>): void {
  lastConfigure.set(Date.now() / 1000);
  for (const [object, change] of Object.entries(changes)) {
    if (change === 'updated' || (change === 'created' && configuredOnce))
      driftRepaired.inc({ kind: object.split(':')[0] ?? object });
  }
  configuredOnce = true;
}

/**
 * Rotations of the audit log: each switch of Vault's audit device to the next file of the ring
 * (audit-rotation.ts increments it).
 */
export const auditLogRotations = new client.Counter({
  name: 'aurora_vault_audit_log_rotations_total',
  help: 'Audit log rotations vault-init performed',
  registers: [registry],
});

interface Sources {
  nodes: VaultClient[];
  auditFile?: string;
  /** Files in the audit log ring (VAULT_AUDIT_KEEP_FILES). */
  auditKeepFiles: number;
  tokenFile?: string;
}
const sources: Sources = { nodes: [], auditKeepFiles: 1 };

/** One read shared by every gauge of the same scrape (they collect concurrently), fresh for the next scrape. */
function perScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (!last || Date.now() - last.at > 1000) last = { at: Date.now(), value: read() };
    return last.value;
  };
}

const sealStatuses = perScrape(() =>
  Promise.all(
    sources.nodes.map((n) =>
      n.sealStatus().then(
        (s) => ({ addr: n.addr, sealed: s.sealed || !s.initialized }),
        () => ({ addr: n.addr, sealed: undefined }),
      ),
    ),
  ),
);

new client.Gauge({
  name: 'aurora_vault_sealed',
  help: 'Vault seal status per node: 1 sealed (or not initialized), 0 unsealed; absent while the node does not answer',
  labelNames: ['node'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const s of await sealStatuses()) if (s.sealed !== undefined) this.set({ node: s.addr }, s.sealed ? 1 : 0);
  },
});

new client.Gauge({
  name: 'aurora_vault_up',
  help: "1 when the node's API answers, 0 when it does not, per node",
  labelNames: ['node'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const s of await sealStatuses()) this.set({ node: s.addr }, s.sealed === undefined ? 0 : 1);
  },
});

interface AutopilotState {
  healthy: boolean;
  failure_tolerance: number;
  leader: string;
  voters: string[];
}

let tokenClient: { token: string; clients: VaultClient[]; renewedAt: number } | undefined;

/** The nodes with the metrics token vault-init wrote; undefined before the first configure wrote it. */
async function withMetricsToken(): Promise<VaultClient[] | undefined> {
  if (!sources.tokenFile) return undefined;
  const token = (await fs.readFile(sources.tokenFile, 'utf8').catch(() => '')).trim();
  if (!token) return undefined;
  if (tokenClient?.token !== token)
    tokenClient = {
      token,
      clients: sources.nodes.map((n) => n.withToken(token, SCRAPE_VAULT_TIMEOUT_MS)),
      renewedAt: Date.now(),
    };
  return tokenClient.clients;
}

/** Keeps the periodic metrics token alive between configure runs (each of which also renews it). */
export async function renewMetricsToken(): Promise<void> {
  const clients = await withMetricsToken();
  if (!clients || !tokenClient || Date.now() - tokenClient.renewedAt < TOKEN_RENEW_EVERY_MS) return;
  for (const c of clients) {
    const renewed = await c.write('auth/token/renew-self', {}).then(
      () => true,
      () => false,
    );
    if (renewed) {
      tokenClient.renewedAt = Date.now();
      return;
    }
  }
}

const autopilot = perScrape(async (): Promise<AutopilotState | undefined> => {
  if (sources.nodes.length < 2) return undefined;
  for (const c of (await withMetricsToken()) ?? []) {
    const answer = await c
      .read<{ data?: AutopilotState } & Partial<AutopilotState>>('sys/storage/raft/autopilot/state')
      .catch(() => undefined);
    const s = answer?.data ?? (answer?.voters ? (answer as AutopilotState) : undefined);
    if (s) return s;
  }
  return undefined;
});

/** A gauge without labels, set from the autopilot state at scrape time (0 while Vault cannot say). */
function autopilotGauge(name: string, help: string, value: (s: AutopilotState) => number): void {
  new client.Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      this.reset();
      const s = await autopilot();
      if (s) this.set(value(s));
    },
  });
}

/** Raft gauges exist only in HA: on one node they would read 0, which looks like a cluster that lost every voter. */
let raftGauges = false;
function registerRaftGauges(): void {
  if (raftGauges) return;
  raftGauges = true;
  autopilotGauge(
    'aurora_vault_raft_voters',
    'Raft voters in the HA cluster (autopilot state); absent while Vault cannot say',
    (s) => s.voters.length,
  );
  autopilotGauge(
    'aurora_vault_raft_failure_tolerance',
    'Voters the HA cluster can lose and keep a quorum (autopilot state)',
    (s) => s.failure_tolerance,
  );
  autopilotGauge('aurora_vault_raft_healthy', '1 when autopilot reports every server healthy, 0 when not', (s) =>
    s.healthy ? 1 : 0,
  );
}

// Where the audit log goes, so `make status` can tell a file it cannot see from a log it is not meant to see.
new client.Gauge({
  name: 'aurora_vault_audit_log_info',
  help: "Where Vault's audit log goes (destination: VAULT_AUDIT_FILE, a path or stdout); always 1",
  labelNames: ['destination'] as const,
  registers: [registry],
  collect() {
    this.reset();
    if (sources.auditFile) this.set({ destination: sources.auditFile }, 1);
  },
});

new client.Gauge({
  name: 'aurora_vault_audit_log_bytes',
  help: 'Size of each file of the audit log ring (VAULT_AUDIT_FILE, .1, .2, …) as vault-init sees it; absent when not visible here',
  labelNames: ['file'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    if (!sources.auditFile || sources.auditFile === AUDIT_STDOUT) return;
    for (let i = 0; i < sources.auditKeepFiles; i++) {
      const file = auditSlot(sources.auditFile, i);
      const st = await fs.stat(file).catch(() => undefined);
      if (st) this.set({ file }, st.size);
    }
  },
});

/**
 * Points the scrape-time gauges at this deployment's nodes, audit file and metrics token file, and starts the
 * hourly renewal of the metrics token. Returns a function that stops it.
 */
export function watchVaultForMetrics(
  config: Pick<VaultInitConfig, 'vaultAddr' | 'haAddrs' | 'auditFile' | 'audit' | 'operatorTokenDir'>,
): () => void {
  const addrs = config.haAddrs.length ? config.haAddrs : [config.vaultAddr];
  sources.nodes = addrs.map((addr) => new VaultClient({ addr, timeoutMs: SCRAPE_VAULT_TIMEOUT_MS }));
  sources.auditFile = config.auditFile;
  sources.auditKeepFiles = config.audit.keepFiles;
  sources.tokenFile = path.join(config.operatorTokenDir, METRICS_TOKEN_FILE);
  if (config.haAddrs.length) registerRaftGauges();
  const timer = setInterval(() => void renewMetricsToken().catch(() => undefined), 60_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** Answers GET /metrics on the health port: the registry in Prometheus' text format. */
export async function serveMetrics(res: import('node:http').ServerResponse): Promise<void> {
  try {
    const text = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text);
  } catch (err) {
    res
      .writeHead(500, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: 'metrics_failed', message: (err as Error).message }));
  }
}
