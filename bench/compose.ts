/**
 * The compose stack on the offline images (BENCH_COMPOSE=1): how long from `make prod-local` to healthy,
 * and to the first successful credential round trip (PUT → resolve → DELETE through the app on :8080, as
 * the bootstrap admin Client). A warm-up run first builds whatever images are not cached; then, from a clean
 * state, the measured run. Refuses to run when a stack (containers named vault, app, ...) already exists:
 * it ends with `prod-local-clean`, which would destroy that stack's secrets.
 */
import { spawn, spawnSync } from 'node:child_process';
import { repoRoot } from '@aurora/process';

export interface ComposeTimings {
  /** `scripts/prod-local.sh up` from start to "all services healthy" (images cached). */
  upToHealthyMs: number;
  /** Start of `up` to the first successful PUT + resolve + DELETE through the app. */
  upToRoundTripMs: number;
  /** The warm-up run (builds what is not cached). */
  warmupMs: number;
}

const CONTAINERS = ['vault', 'vault-init', 'vault-agent', 'postgres', 'app'];

function sh(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 15 * 60_000,
): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(args[0] as string, args.slice(1), { cwd: repoRoot(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, ms: Date.now() - t0 });
    });
  });
}

function existingContainers(): string[] {
  const res = spawnSync('docker', ['ps', '-a', '--format', '{{.Names}}'], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`docker ps failed: ${res.stderr}`);
  return res.stdout.split('\n').filter((n) => CONTAINERS.includes(n));
}

async function roundTrip(adminSecret: string): Promise<boolean> {
  const auth = `Basic ${Buffer.from(`admin:${adminSecret}`).toString('base64')}`;
  const base = 'http://127.0.0.1:8080/users/bench-compose/credentials/roundtrip';
  const value = `bench-compose-${Date.now()}`;
  try {
    const put = await fetch(base, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { value } }),
      signal: AbortSignal.timeout(5000),
    });
    if (put.status !== 201 && put.status !== 200) return false;
    const res = await fetch(`${base}/resolve`, {
      method: 'POST',
      headers: { authorization: auth },
      signal: AbortSignal.timeout(5000),
    });
    if (res.status !== 200 || ((await res.json()) as { data?: { value?: string } }).data?.value !== value) return false;
    const del = await fetch(base, {
      method: 'DELETE',
      headers: { authorization: auth },
      signal: AbortSignal.timeout(5000),
    });
    return del.status === 204;
  } catch {
    return false;
  }
}

export async function measureCompose(log: (m: string) => void): Promise<ComposeTimings> {
  const existing = existingContainers();
  if (existing.length)
    throw new Error(
      `containers ${existing.join(', ')} exist: not measuring over someone's stack (it ends with prod-local-clean)`,
    );
  const env: NodeJS.ProcessEnv = { ...process.env, OFFLINE: '1', KEEP_DOCKER: '1' };
  for (const v of ['VAULT_TOKEN', 'VAULT_ADDR', 'COMPOSE_PROJECT_NAME']) delete env[v];
  const up = ['scripts/prod-local.sh', 'up'];
  const clean = ['scripts/prod-local.sh', 'clean'];

  log('compose: warm-up run (builds what is not cached)');
  const warm = await sh(up, env);
  if (warm.code !== 0) throw new Error(`prod-local up (warm-up) failed:\n${warm.out.slice(-3000)}`);
  await sh(clean, env);

  log('compose: measured run');
  const t0 = Date.now();
  const run = await sh(up, env);
  const upToHealthyMs = Date.now() - t0;
  try {
    if (run.code !== 0) throw new Error(`prod-local up failed:\n${run.out.slice(-3000)}`);
    const secret = spawnSync(
      'docker',
      ['exec', 'vault', 'vault', 'kv', 'get', '-field=client-secret', 'secret/aurora/admin'],
      { encoding: 'utf8' },
    );
    if (secret.status !== 0) throw new Error(`reading the bootstrap admin secret failed: ${secret.stderr}`);
    let upToRoundTripMs = -1;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (await roundTrip(secret.stdout.trim())) {
        upToRoundTripMs = Date.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (upToRoundTripMs < 0) throw new Error('no successful credential round trip within 120 s of healthy');
    return { upToHealthyMs, upToRoundTripMs, warmupMs: warm.ms };
  } finally {
    await sh(clean, env);
  }
}
