/**
 * `make status`: how the stack is, on one screen. Each line is one thing an operator asks about (the services,
 * Vault's seal, the HA cluster, vault-init, the app, tokens, the audit log, doctor's counts, the last backup),
 * with a level (ok, warn, red) and, for anything not ok, what to do.
 *
 * Everything is read from what the stack already exposes, never with a root token: Vault's unauthenticated
 * seal-status and leader endpoints, vault-init's /health and /metrics, the app's /readyz and /metrics, doctor's
 * JSON report, the backup directory's newest archive. A source that does not answer is itself a finding.
 */
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient } from '@aurora/common';
import { parseScrape, type Scrape } from '@aurora/process';
import type { DoctorResult } from './doctor-report.js';
import type { SealStatus } from './vault-api.js';

export type Level = 'ok' | 'warn' | 'red';

export interface StatusLine {
  /** Stable id (`vault`, `vault-init`, `app`, `doctor`, ...), for --json consumers and tests. */
  id: string;
  level: Level;
  /** What was found, in a few words. */
  summary: string;
  /** What to do, for warn and red. */
  fix?: string;
}

export interface StatusReport {
  target: string;
  at: string;
  level: Level;
  lines: StatusLine[];
}

/** Where each part of the stack answers, and how to run the slower checks; built by scripts/status.ts or a test. */
export interface StatusSources {
  /** "native (.native/)", "compose (project x)". */
  target: string;
  kind: 'native' | 'compose' | 'test';
  /** The services expected to run, and a function listing those that do. */
  expected: string[];
  running(): Promise<string[]>;
  vaultAddr: string;
  sealStatus(): Promise<SealStatus>;
  /** vault-init's health port (…/health, …/metrics). */
  vaultInitUrl: string;
  appUrl: string;
  appMetricsUrl: string;
  doctor(): Promise<DoctorResult>;
  backupDir: string;
  /** How the user sees a service's log, for the fixes ("docker logs vault-init", ".native/logs/app.log"). */
  logsOf(service: string): string;
  /** The command that starts the stack ("make prod-local", "make native"). */
  startCommand: string;
}

const TIMEOUT_MS = 5000;
/** The app token is renewed at two thirds of its TTL: under this, renewal has been failing for a while. */
const TOKEN_RED_SECONDS = 60;
const TOKEN_WARN_SECONDS = 600;
const AUDIT_WARN_BYTES = 1024 ** 3;
const BACKUP_WARN_HOURS = 7 * 24;

async function get(url: string): Promise<{ status: number; text: string } | Error> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    const e = err as Error & { cause?: Error };
    return new Error(e.cause?.message ?? e.message);
  }
}

async function scrape(url: string): Promise<Scrape | Error> {
  const res = await get(url);
  if (res instanceof Error) return res;
  if (res.status !== 200) return new Error(`${url} answered ${res.status}`);
  return parseScrape(res.text);
}

function worst(levels: Level[]): Level {
  return levels.includes('red') ? 'red' : levels.includes('warn') ? 'warn' : 'ok';
}

/** A duration in the largest unit that keeps it readable: 45 s, 12 min, 5 h, 3 d. */
export function humanSeconds(s: number): string {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

function humanBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 ** 2) return `${(b / 1024).toFixed(1)} KiB`;
  if (b < 1024 ** 3) return `${(b / 1024 ** 2).toFixed(1)} MiB`;
  return `${(b / 1024 ** 3).toFixed(2)} GiB`;
}

/** The newest `aurora-backup-*` archive in `dir`, with its age in seconds; undefined when there is none. */
export function lastBackup(dir: string, now = Date.now()): { file: string; ageSeconds: number } | undefined {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => /^aurora-backup-.*\.tar\.gz(\.enc)?$/.test(n));
  } catch {
    return undefined;
  }
  let newest: { file: string; mtime: number } | undefined;
  for (const n of names) {
    const mtime = fs.statSync(path.join(dir, n), { throwIfNoEntry: false })?.mtimeMs;
    if (mtime !== undefined && (!newest || mtime > newest.mtime)) newest = { file: n, mtime };
  }
  return newest && { file: newest.file, ageSeconds: Math.max(0, (now - newest.mtime) / 1000) };
}

/**
 * The audit-log line from vault-init's scrape (undefined when it did not answer): a file's size, with a warning
 * past 1 GiB; ok for Vault's standard output, which the container runtime keeps and rotates; a warning when
 * vault-init says a file but cannot see it.
 */
export function auditLogLine(initMetrics: Scrape | undefined): StatusLine {
  const destination = initMetrics?.samples('aurora_vault_audit_log_info')[0]?.labels.destination;
  if (destination === 'stdout')
    return { id: 'audit-log', level: 'ok', summary: "on Vault's output, kept and rotated by the container runtime" };
  if (!initMetrics) return { id: 'audit-log', level: 'warn', summary: 'unknown: vault-init does not answer' };
  const audit = initMetrics.samples('aurora_vault_audit_log_bytes');
  if (!audit.length) {
    const where = destination ?? 'the file';
    return {
      id: 'audit-log',
      level: 'warn',
      summary: `size unknown (vault-init cannot see ${where})`,
      fix: "mount the audit log's volume into vault-init, or set VAULT_AUDIT_FILE=stdout (docs/operations.md)",
    };
  }
  const bytes = audit.reduce((sum, s) => sum + s.value, 0);
  const rotations = initMetrics.value('aurora_vault_audit_log_rotations_total');
  return {
    id: 'audit-log',
    level: bytes > AUDIT_WARN_BYTES ? 'warn' : 'ok',
    summary: `${humanBytes(bytes)}${rotations ? `, ${rotations} rotation(s)` : ''}`,
    ...(bytes > AUDIT_WARN_BYTES ? { fix: 'rotate it (docs/operations.md, "Audit log") or give its volume room' } : {}),
  };
}

/** Gathers every line; never throws (a failing source becomes a red line that says so). */
export async function collectStatus(src: StatusSources): Promise<StatusReport> {
  const [running, seal, initHealth, initMetrics, ready, appMetrics, leader] = await Promise.all([
    src.running().catch((err: Error) => err),
    src.sealStatus().catch((err: Error) => err),
    get(`${src.vaultInitUrl}/health`),
    scrape(`${src.vaultInitUrl}/metrics`),
    get(`${src.appUrl}/readyz`),
    scrape(src.appMetricsUrl),
    new VaultClient({ addr: src.vaultAddr, timeoutMs: TIMEOUT_MS })
      .read<{ leader_address?: string }>('sys/leader')
      .catch((err: Error) => err),
  ]);
  // After the probes, not beside them: the targets run doctor with spawnSync, which would stall their timers.
  // Doctor needs PostgreSQL and Vault: without them it only repeats what the lines above say, slowly.
  const doctorCan = !(running instanceof Error) && running.includes('postgres') && !(seal instanceof Error);
  const doctor = doctorCan
    ? await src.doctor().catch((err: Error) => err)
    : new Error('skipped: needs PostgreSQL and Vault running (see above)');
  const lines: StatusLine[] = [];

  // Services.
  if (running instanceof Error) {
    lines.push({ id: 'services', level: 'red', summary: `cannot list them: ${running.message}` });
  } else {
    const missing = src.expected.filter((s) => !running.includes(s));
    lines.push(
      missing.length
        ? {
            id: 'services',
            level: 'red',
            summary: `not running: ${missing.join(', ')}`,
            fix:
              missing.length === src.expected.length
                ? `nothing runs: ${src.startCommand}`
                : `${src.startCommand} starts what is missing; why it stopped: ${missing.map((m) => src.logsOf(m)).join(', ')}`,
          }
        : { id: 'services', level: 'ok', summary: `running: ${src.expected.join(', ')}` },
    );
  }

  // vault-init's /health body: what it waits for, and on Raft how many nodes the cluster is configured with.
  const initSaid = initHealth instanceof Error ? undefined : healthBody(initHealth.text);
  // Vault's seal, as the address users talk to sees it; per node from vault-init's metrics in HA.
  const nodes = initMetrics instanceof Error ? [] : initMetrics.samples('aurora_vault_sealed');
  const configuredNodes = initSaid?.raft?.nodes;
  const sealedNodes = nodes.filter((n) => n.value === 1).map((n) => n.labels.node);
  if (seal instanceof Error) {
    lines.push({
      id: 'vault',
      level: 'red',
      summary: `no answer at ${src.vaultAddr}: ${seal.message}`,
      fix: `is Vault running? ${src.logsOf('vault')}`,
    });
  } else if (!seal.initialized) {
    lines.push({
      id: 'vault',
      level: 'red',
      summary: 'not initialized',
      fix: `vault-init initializes it at start: ${src.logsOf('vault-init')}`,
    });
  } else if (seal.sealed || sealedNodes.length) {
    lines.push({
      id: 'vault',
      level: 'red',
      summary: `sealed${sealedNodes.length && nodes.length > 1 ? ` (nodes: ${sealedNodes.join(', ')})` : ''}`,
      fix: `vault-init unseals within seconds of a restart; if it stays sealed, see ${src.logsOf('vault-init')}`,
    });
  } else if (configuredNodes !== undefined && nodes.length < configuredNodes) {
    // The seal gauge is absent for a node that does not answer: fewer samples than nodes means some are down.
    lines.push({
      id: 'vault',
      level: 'warn',
      summary: `unsealed, ${seal.version}, ${nodes.length} of ${configuredNodes} nodes answer`,
      fix: 'start the stopped node(s); vault-init unseals (or joins) them when they answer',
    });
  } else {
    lines.push({
      id: 'vault',
      level: 'ok',
      summary: `unsealed, ${seal.version}${nodes.length > 1 ? `, ${nodes.length} nodes` : ''}`,
    });
  }

  // HA: leader and voters (only where vault-init reports Raft gauges).
  const voters = initMetrics instanceof Error ? undefined : initMetrics.value('aurora_vault_raft_voters');
  if (nodes.length > 1 || voters !== undefined) {
    const tolerance =
      initMetrics instanceof Error ? undefined : initMetrics.value('aurora_vault_raft_failure_tolerance');
    const leaderAddr = leader instanceof Error ? undefined : leader.leader_address || undefined;
    const level: Level = !leaderAddr || voters === undefined ? 'red' : (tolerance ?? 0) < 1 ? 'warn' : 'ok';
    lines.push({
      id: 'vault-ha',
      level,
      summary: `leader ${leaderAddr ?? 'none'}, voters ${voters ?? '?'}, failure tolerance ${tolerance ?? '?'}`,
      ...(level === 'ok'
        ? {}
        : {
            fix: !leaderAddr
              ? `no active node: a quorum of nodes must be up and unsealed (${src.logsOf('vault-init')})`
              : 'the cluster cannot lose a node: start the stopped node(s); vault-init joins and unseals them',
          }),
    });
  }

  // vault-init.
  if (initHealth instanceof Error) {
    lines.push({
      id: 'vault-init',
      level: 'red',
      summary: `no answer at ${src.vaultInitUrl}: ${initHealth.message}`,
      fix: `nothing unseals Vault after a restart while it is down: ${src.startCommand}; ${src.logsOf('vault-init')}`,
    });
  } else {
    const unseals = initMetrics instanceof Error ? undefined : initMetrics.value('aurora_vault_init_unseals_total');
    const configured =
      initMetrics instanceof Error
        ? undefined
        : initMetrics.value('aurora_vault_init_last_configure_success_timestamp_seconds');
    const facts = [
      unseals !== undefined ? `${unseals} unseal(s)` : undefined,
      configured ? `configured ${humanSeconds(Date.now() / 1000 - configured)} ago` : undefined,
    ].filter(Boolean);
    lines.push(
      initHealth.status === 200
        ? { id: 'vault-init', level: 'ok', summary: ['healthy', ...facts].join(', ') }
        : {
            id: 'vault-init',
            level: 'red',
            summary: `not healthy: waiting for ${initSaid?.waitingFor ?? initHealth.text.trim().slice(0, 200)}`,
            fix: `it is unsealing or configuring Vault, or failing to: ${src.logsOf('vault-init')}`,
          },
    );
  }

  // The app.
  if (ready instanceof Error) {
    lines.push({
      id: 'app',
      level: 'red',
      summary: `no answer at ${src.appUrl}: ${ready.message}`,
      fix: `${src.startCommand}; ${src.logsOf('app')}`,
    });
  } else if (ready.status === 200) {
    lines.push({ id: 'app', level: 'ok', summary: 'ready (PostgreSQL, Vault, token)' });
  } else {
    let checks = ready.text.trim().slice(0, 200);
    try {
      const body = JSON.parse(ready.text) as { checks?: Record<string, string> };
      checks = Object.entries(body.checks ?? {})
        .filter(([, v]) => v !== 'ok')
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ');
    } catch {
      /* not JSON: shown as is */
    }
    lines.push({
      id: 'app',
      level: 'red',
      summary: `not ready (${checks})`,
      fix: `it recovers by itself once Vault and PostgreSQL answer; ${src.logsOf('app')}`,
    });
  }

  // Tokens and leases the app holds.
  if (appMetrics instanceof Error) {
    lines.push({
      id: 'tokens',
      level: 'warn',
      summary: `app metrics unavailable (${appMetrics.message})`,
      fix: `the app serves them on ${src.appMetricsUrl}`,
    });
  } else {
    const lifetimes = appMetrics.samples('aurora_app_vault_expiry_seconds');
    if (!lifetimes.length) {
      lines.push({ id: 'tokens', level: 'warn', summary: 'the app reports no token lifetime (Vault not answering?)' });
    } else {
      const shortest = Math.min(...lifetimes.map((l) => l.value));
      const level: Level = shortest < TOKEN_RED_SECONDS ? 'red' : shortest < TOKEN_WARN_SECONDS ? 'warn' : 'ok';
      lines.push({
        id: 'tokens',
        level,
        summary: lifetimes
          .map((l) => `${l.labels.name ?? l.labels.kind} expires in ${humanSeconds(l.value)}`)
          .join(', '),
        ...(level === 'ok'
          ? {}
          : { fix: `renewal is failing: ${src.logsOf('app')}; restarting the app logs in again` }),
      });
    }
  }

  lines.push(auditLogLine(initMetrics instanceof Error ? undefined : initMetrics));

  // doctor.
  if (doctor instanceof Error) {
    // doctor's own failure (an error the target wraps), or the skip above.
    lines.push({ id: 'doctor', level: 'warn', summary: doctor.message.slice(0, 200) });
  } else {
    // A mismatched row still resolves (Vault's current version), but a client's If-Match from it fails: red.
    const red = doctor.dangling > 0 || doctor.damaged > 0 || doctor.mismatched > 0;
    const level: Level = red ? 'red' : doctor.orphans > 0 ? 'warn' : 'ok';
    lines.push({
      id: 'doctor',
      level,
      summary:
        `${doctor.dangling} dangling${doctor.recoverable > 0 ? ` (${doctor.recoverable} recoverable)` : ''}, ` +
        `${doctor.mismatched > 0 ? `${doctor.mismatched} version mismatched, ` : ''}` +
        `${doctor.orphans} orphaned, ${doctor.damaged} damaged`,
      ...(level === 'ok'
        ? {}
        : {
            fix:
              doctor.damaged > 0
                ? 'make doctor names the damaged entries and the fix (docs/operations.md)'
                : doctor.recoverable > 0
                  ? // REPAIR=1 leaves these alone on purpose: Vault still holds a version to give back.
                    'make doctor prints the vault kv undelete / rollback command that brings each recoverable one back; ' +
                    'make doctor REPAIR=1 repairs the rest'
                  : doctor.mismatched > 0 && doctor.dangling === 0 && doctor.orphans === 0
                    ? "make doctor names each row whose version differs from Vault's; make doctor REPAIR=1 records Vault's current version"
                    : 'make doctor lists them; make doctor REPAIR=1 repairs them',
          }),
    });
  }

  // The last backup.
  const backup = lastBackup(src.backupDir);
  if (!backup) {
    lines.push({ id: 'backup', level: 'warn', summary: `none in ${src.backupDir}`, fix: 'make backup' });
  } else {
    const old = backup.ageSeconds > BACKUP_WARN_HOURS * 3600;
    lines.push({
      id: 'backup',
      level: old ? 'warn' : 'ok',
      summary: `${backup.file}, ${humanSeconds(backup.ageSeconds)} old`,
      ...(old ? { fix: 'make backup' } : {}),
    });
  }

  return { target: src.target, at: new Date().toISOString(), level: worst(lines.map((l) => l.level)), lines };
}

/** The screen: one line per finding, the fix indented under it; colours only on a terminal. */
export function renderStatus(report: StatusReport, color: boolean): string {
  const paint = (level: Level, text: string) =>
    !color ? text : `\x1b[${level === 'ok' ? 32 : level === 'warn' ? 33 : 31}m${text}\x1b[0m`;
  const tag = { ok: 'ok  ', warn: 'WARN', red: 'RED ' } as const;
  const out = [`aurora-secrets status: ${report.target}, ${report.at.replace('T', ' ').slice(0, 19)} UTC`];
  for (const l of report.lines) {
    out.push(`  ${paint(l.level, tag[l.level])}  ${l.id.padEnd(11)} ${l.summary}`);
    if (l.fix) out.push(`${' '.repeat(19)}→ ${l.fix}`);
  }
  out.push(
    report.level === 'ok'
      ? 'All green.'
      : `${report.lines.filter((l) => l.level === 'red').length} red, ${report.lines.filter((l) => l.level === 'warn').length} warning(s).`,
  );
  return `${out.join('\n')}\n`;
}

/** vault-init's /health answer (health.ts), or undefined when it is not the JSON it sends. */
function healthBody(text: string): { waitingFor?: string; raft?: { nodes?: number } } | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    return body && typeof body === 'object' ? (body as { waitingFor?: string; raft?: { nodes?: number } }) : undefined;
  } catch {
    return undefined;
  }
}
