/**
 * One load cell: autocannon (keep-alive connections, no pipelining) against one URL for a fixed time, with
 * latencies recorded at full resolution from its `response` events (its own histogram rounds to whole ms,
 * too coarse for sub-millisecond Vault reads). Throughput counts 2xx answers only.
 */
import autocannon from 'autocannon';
import type { IncomingHttpHeaders } from 'node:http';

export interface Target {
  url: string;
  method: 'GET' | 'POST' | 'PUT';
  headers?: IncomingHttpHeaders;
  body?: string;
  /** A fresh path for each request (writes to new secrets); default: the URL's path. */
  path?: (n: number) => string;
}

export interface Cell {
  connections: number;
  durationS: number;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

let counter = 0;

function run(
  target: Target,
  connections: number,
  durationS: number,
  record?: (status: number, ms: number) => void,
): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const request: autocannon.Request = { method: target.method };
    if (target.path) {
      const makePath = target.path;
      request.setupRequest = (req) => ({ ...req, path: makePath(counter++) });
    }
    const instance = autocannon(
      {
        url: target.url,
        method: target.method,
        headers: target.headers,
        body: target.body,
        connections,
        pipelining: 1,
        duration: durationS,
        timeout: 10,
        requests: [request],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    if (record) {
      instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => record(status, ms));
    }
  });
}

/** What several runs against one target added up to (slices interleaved with other targets' slices). */
export class Accumulator {
  readonly latencies: number[] = [];
  ok = 0;
  non2xx = 0;
  errors = 0;
  elapsedS = 0;
}

/** One measured run of `seconds`, added to `acc`. */
export async function slice(target: Target, connections: number, seconds: number, acc: Accumulator): Promise<void> {
  const started = process.hrtime.bigint();
  const result = await run(target, connections, seconds, (status, ms) => {
    if (status >= 200 && status < 300) {
      acc.ok++;
      acc.latencies.push(ms);
    } else acc.non2xx++;
  });
  acc.elapsedS += Number(process.hrtime.bigint() - started) / 1e9;
  acc.errors += result.errors;
}

/** An unrecorded run (warm-up: connections, JIT, caches). */
export async function warm(target: Target, connections: number, seconds: number): Promise<void> {
  if (seconds > 0) await run(target, connections, seconds);
}

export function summarize(acc: Accumulator, connections: number): Cell {
  const sorted = Float64Array.from(acc.latencies).sort();
  const mean = acc.latencies.reduce((a, b) => a + b, 0) / Math.max(1, acc.latencies.length);
  return {
    connections,
    durationS: round(acc.elapsedS, 2),
    requests: acc.ok + acc.non2xx,
    ok: acc.ok,
    non2xx: acc.non2xx,
    errors: acc.errors,
    rps: round(acc.ok / Math.max(1e-9, acc.elapsedS), 0),
    p50Ms: round(percentile(sorted, 0.5), 3),
    p99Ms: round(percentile(sorted, 0.99), 3),
    meanMs: round(mean, 3),
  };
}

/** Warm-up (unrecorded), then one measured run. */
export async function measure(target: Target, connections: number, durationS: number, warmupS = 1): Promise<Cell> {
  await warm(target, connections, warmupS);
  const acc = new Accumulator();
  await slice(target, connections, durationS, acc);
  return summarize(acc, connections);
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
