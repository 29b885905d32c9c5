/**
 * The k8s e2e's view of the local cluster. These tests run INSIDE the node's network and mount namespaces
 * (scripts/k8s/test.sh starts them with nsenter), so kubectl talks to the API server directly and fetch()
 * reaches Services by ClusterIP through kube-proxy, as a client inside the cluster does; no port-forward.
 * Environment (set by scripts/k8s/test.sh): KUBECTL, KUBECONFIG, HELM, K8S_NAMESPACE, K8S_RELEASE, K8S_CHART.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import assert from 'node:assert/strict';
import { isRaftTransitionMessage } from '@aurora/common';
import { waitFor } from '@aurora/process';

export const NS = process.env.K8S_NAMESPACE ?? 'aurora';
export const RELEASE = process.env.K8S_RELEASE ?? 'aurora-secrets';
export const FULLNAME = RELEASE.includes('aurora-secrets') ? RELEASE : `${RELEASE}-aurora-secrets`;
export const MIN = 60_000;

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a program; never throws for a non-zero exit (the caller asserts). */
export function run(file: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? MIN, maxBuffer: 256 * 1024 * 1024, env: process.env },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ status: code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export function kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return run(process.env.KUBECTL ?? 'kubectl', ['-n', NS, ...args], opts);
}

/** kubectl that must succeed; returns stdout. */
export async function k(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await kubectl(args, opts);
  assert.equal(r.status, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export async function kJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await k([...args, '-o', 'json'])) as T;
}

export function helm(args: string[], timeoutMs = 5 * MIN): Promise<Run> {
  return run(process.env.HELM ?? 'helm', ['-n', NS, ...args], { timeoutMs });
}

interface PodList {
  items: {
    metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
    status: {
      phase?: string;
      podIP?: string;
      conditions?: { type: string; status: string }[];
      containerStatuses?: { name: string; restartCount: number; ready: boolean }[];
      initContainerStatuses?: { name: string; restartCount: number }[];
    };
  }[];
}

/** The component's pods, without those already terminating. */
export async function pods(component: string): Promise<PodList['items']> {
  return (await kJson<PodList>(['get', 'pods', '-l', `app.kubernetes.io/component=${component}`])).items.filter(
    (p) => !p.metadata.deletionTimestamp,
  );
}

export const isReady = (p: PodList['items'][number]): boolean =>
  p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** The root token, from the init-material Secret (the one Kubernetes object allowed to hold it). */
export async function rootToken(): Promise<string> {
  const b64 = await k(['get', 'secret', `${FULLNAME}-vault-init`, '-o', 'jsonpath={.data.init\\.json}']);
  return (JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as { root_token: string }).root_token;
}

/**
 * `vault <args>` in a Ready Vault pod, as root; `input` goes to stdin after the token (for values given as "-").
 * The token travels on stdin, read by a shell in the pod, so it is never on kubectl's or the pod's command line
 * (where `ps` or the API server's audit log would show it).
 */
export async function vault(args: string[], input?: string): Promise<Run> {
  // Right after an active pod is deleted, a Ready standby may not know the new leader yet and answers 500
  // ("active cluster node not found") to every request: what a user sees too, and retries. Once a second, for
  // up to an election's worth of time; any other answer is returned at once.
  const deadline = Date.now() + MIN;
  for (;;) {
    const r = await vaultOnce(args, input);
    if (r.status === 0 || !isRaftTransitionMessage(r.stderr) || Date.now() > deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function vaultOnce(args: string[], input?: string): Promise<Run> {
  const token = await rootToken();
  const ready = (await pods('vault')).filter(isReady);
  assert.ok(ready.length > 0, 'no Ready Vault pod');
  return kubectl(
    [
      'exec',
      '-i',
      ready[0]!.metadata.name,
      '-c',
      'vault',
      '--',
      'sh',
      '-c',
      'read -r VAULT_TOKEN; export VAULT_TOKEN; exec vault "$@"',
      'vault',
      ...args,
    ],
    { input: `${token}\n${input ?? ''}`, timeoutMs: MIN },
  );
}

/** http://<ClusterIP>:<port> of one of the release's Services. */
export async function serviceUrl(suffix: string, port: number): Promise<string> {
  const ip = await k(['get', 'svc', `${FULLNAME}-${suffix}`, '-o', 'jsonpath={.spec.clusterIP}']);
  return `http://${ip}:${port}`;
}

/** The bootstrap admin Client's secret (vault-init generates it into Vault). */
export async function adminSecret(): Promise<string> {
  const r = await vault(['kv', 'get', '-field=client-secret', 'secret/aurora/admin']);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

/** A fresh random secret value (hex), made at run time. */
export function randomSecret(prefix: string): string {
  return `${prefix}-${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex')}`;
}

/**
 * One HTTP request on a fresh connection (no keep-alive): a reused connection would stay pinned to a pod that
 * is gone, which says nothing about the Service. Resolves with the status (0 for a network error), the body and
 * Retry-After when the answer has one.
 */
export function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<{ status: number; body: string; retryAfter?: string }> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: false, timeout: opts.timeoutMs ?? 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        const retryAfter = res.headers['retry-after'];
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(retryAfter ? { retryAfter } : {}) }));
        res.on('error', () => resolve({ status: 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: String(err.message) }));
    req.end(opts.body);
  });
}

export interface LoadResult {
  ok: number;
  failed: { at: number; status: number; body: string }[];
}

/**
 * A small steady load: `send(i)` every `intervalMs` (one at a time), until stop(). Counts answers for which
 * `good` holds; keeps the others with their time. `t`: the test it belongs to; the load stops when that test
 * ends, also when an assertion fails before stop() (a load left running keeps the test process alive forever).
 */
export function steadyLoad(
  t: { after: (fn: () => Promise<unknown>) => void },
  send: (i: number) => Promise<{ status: number; body: string }>,
  good: (r: { status: number }) => boolean,
  intervalMs = 100,
): { stop: () => Promise<LoadResult>; readonly ok: number } {
  const result: LoadResult = { ok: 0, failed: [] };
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const r = await send(i);
      if (good(r)) result.ok++;
      else result.failed.push({ at: Date.now(), status: r.status, body: r.body.slice(0, 200) });
      await new Promise((res) => setTimeout(res, intervalMs));
    }
  })();
  const stop = async (): Promise<LoadResult> => {
    stopped = true;
    await loop;
    return result;
  };
  t.after(stop);
  return {
    stop,
    /** The requests that succeeded so far: wait on it (instead of a fixed time) for load to be flowing. */
    get ok() {
      return result.ok;
    },
  };
}

/** Vault's HA view of one pod: `vault status` in it ("active", "standby", or "sealed"/"down"). */
export async function vaultRole(pod: string): Promise<string> {
  const r = await kubectl(['exec', pod, '-c', 'vault', '--', 'vault', 'status', '-format=json'], { timeoutMs: 15_000 });
  try {
    // `vault status -format=json`: is_self says whether this node is the active one.
    const s = JSON.parse(r.stdout) as { sealed: boolean; is_self?: boolean };
    return s.sealed ? 'sealed' : s.is_self ? 'active' : 'standby';
  } catch {
    return 'down';
  }
}

/** Waits for a rollout (a Deployment or StatefulSet) to finish. */
export async function rolledOut(kind: string, name: string, timeoutMs = 4 * MIN): Promise<void> {
  await waitFor(
    `${kind}/${name} rolled out`,
    async () =>
      (await kubectl(['rollout', 'status', `${kind}/${name}`, '--timeout=10s'], { timeoutMs: 20_000 })).status === 0 ||
      undefined,
    timeoutMs,
    500,
  );
}

/** Raft's peers as the active node sees them (`vault operator raft list-peers`): node id and voter flag. */
export async function raftPeers(): Promise<{ node_id: string; voter: boolean }[]> {
  const r = await vault(['operator', 'raft', 'list-peers', '-format=json']);
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { data: { config: { servers: { node_id: string; voter: boolean }[] } } }).data.config
    .servers;
}

/**
 * Waits until Raft has `n` peers, every one a voter. A pod that joins starts as a non-voter; autopilot promotes it
 * once it has been healthy for its stabilization time, and only voters count for a quorum that can elect a leader.
 */
export async function votersReady(n: number, timeoutMs = 2 * MIN): Promise<void> {
  await waitFor(
    `${n} Raft peers, every one a voter`,
    async () => {
      const peers = await raftPeers();
      return (peers.length === n && peers.every((p) => p.voter)) || undefined;
    },
    timeoutMs,
    500,
  );
}
