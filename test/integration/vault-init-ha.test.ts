// User story (HA profile, process harness): vault-init with VAULT_HA_ADDRS turns three fresh Vault nodes on
// integrated Raft storage into a cluster: it initializes one (init.json first), joins the other two and unseals
// all three, configures once. When the active node is killed -9, a standby takes over; the app, pointed at a
// surviving node (standbys forward to the active one), keeps answering: 503 with Retry-After at most during the
// election, then 2xx, and no write it acknowledged is lost. The killed node comes back sealed and vault-init
// (watch mode) unseals it within 2 s.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  RaftCluster,
  type RaftNode,
  PostgresServer,
  AppProcess,
  clientResource,
  tempDir,
  waitFor,
  vaultInitDirs,
  vaultInitEnv,
  VaultInitProcess,
  type VaultInitDirs,
  parseScrape,
} from '@aurora/process';
import { leakedLines, secretsOnDisk } from '../support/leaks.js';
import { loadConfig } from '@aurora/vault-init/config';

const REUNSEAL_BOUND_MS = 2000;

interface Answer {
  status: number;
  retryAfter: string | null;
  text: string;
  ms: number;
}

describe('vault-init with VAULT_HA_ADDRS: a 3-node Raft cluster, kill -9 of the active node', () => {
  let cluster: RaftCluster;
  let postgres: PostgresServer;
  let dirs: VaultInitDirs;
  let env: Record<string, string>;
  let proc: VaultInitProcess;
  let app: AppProcess;
  let active: RaftNode;
  let writerAuth = '';

  const health = async () => {
    const res = await fetch(`http://127.0.0.1:${env.VAULT_INIT_HEALTH_PORT}/health`);
    return { status: res.status, body: (await res.json()) as unknown };
  };

  const call = async (method: string, urlPath: string, body?: unknown): Promise<Answer> => {
    const started = Date.now();
    const res = await fetch(`${app.url}${urlPath}`, {
      method,
      headers: { authorization: writerAuth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      text: await res.text(),
      ms: Date.now() - started,
    };
  };

  before(async () => {
    const [c, p] = await Promise.allSettled([RaftCluster.start(3), PostgresServer.start()]);
    if (c.status === 'rejected' || p.status === 'rejected') {
      await Promise.allSettled([
        c.status === 'fulfilled' ? c.value.stop() : undefined,
        p.status === 'fulfilled' ? p.value.stop() : undefined,
      ]);
      throw c.status === 'rejected' ? c.reason : (p as PromiseRejectedResult).reason;
    }
    [cluster, postgres] = [c.value, p.value];
    dirs = vaultInitDirs();
    env = await vaultInitEnv(cluster.nodes[0]!, dirs, {
      VAULT_HA_ADDRS: cluster.nodes.map((n) => n.addr).join(','),
      VAULT_SECRET_SHARES: '3',
      VAULT_SECRET_THRESHOLD: '2',
      VAULT_WAIT_TIMEOUT_MS: '60000',
    });
    proc = VaultInitProcess.start(env);
  });
  after(async () => {
    await app?.stop();
    await proc?.stop();
    await Promise.allSettled([cluster?.stop(), postgres?.stop()]);
  });

  test('initializes one node, joins and unseals the other two, configures once; health 200', async (t) => {
    const started = Date.now();
    await proc.waitForOutput(/watching the seal status/, 120_000);
    t.diagnostic(`cluster formed and configured in ${Date.now() - started} ms`);
    const init = JSON.parse(fs.readFileSync(path.join(dirs.initDir, 'init.json'), 'utf8')) as {
      keys_base64: string[];
      root_token: string;
    };
    assert.equal(fs.statSync(path.join(dirs.initDir, 'init.json')).mode & 0o777, 0o600);
    cluster.keys = init.keys_base64;
    cluster.rootToken = init.root_token;
    const out = proc.output();
    assert.equal(out.match(/"step initialize done"/g)?.length, 1, 'initialized exactly once');
    assert.equal(out.match(/joining the Raft cluster/g)?.length, 2, 'vault-init joined the other two nodes');
    assert.equal((await cluster.peers()).length, 3, 'three members');
    for (const n of cluster.nodes) {
      const h = await n.health();
      assert.equal(h.initialized, true, `${n.id} initialized`);
      assert.equal(h.sealed, false, `${n.id} unsealed`);
    }
    active = await cluster.waitActive();
    assert.equal(active, cluster.nodes[0], 'the first listed node was initialized and is active');
    // Configured through the active node, replicated to all: the app's AppRole files exist and the mount is there.
    assert.ok(fs.existsSync(path.join(dirs.approleDir, 'app', 'secret_id')));
    // Autopilot promotes the joined nodes to voters once they have been healthy for a while (Vault's default
    // 10 s): before that, losing the leader would leave no quorum, so health waits for it and says so.
    const waited: string[] = [];
    const healthyAt = await waitFor(
      'vault-init healthy',
      async () => {
        const h = await health();
        const said = (h.body as { waitingFor?: string }).waitingFor;
        if (said && said !== waited.at(-1)) waited.push(said);
        return h.status === 200 ? h : undefined;
      },
      120_000,
      100,
    );
    t.diagnostic(
      `healthy (every node a voter) ${Date.now() - started} ms after start; it waited for: ${waited.join(' | ')}`,
    );
    assert.deepEqual(healthyAt.body, {
      unsealed: true,
      configured: true,
      raft: { ready: true, voters: 3, nodes: 3, failureTolerance: 1 },
    });
    const peers = await cluster.peers();
    assert.ok(peers.length === 3 && peers.every((p) => p.voter), `three voters once healthy: ${JSON.stringify(peers)}`);
    const autopilot = await cluster.autopilot();
    assert.equal(autopilot.healthy, true);
    assert.equal(autopilot.failure_tolerance, 1);
    assert.ok(
      waited.some((w) => /Raft: \d of 3 nodes vote; waiting for/.test(w)),
      `health named the voters while it waited: ${JSON.stringify(waited)}`,
    );
  });

  test("vault-init's /metrics: every node unsealed, three Raft voters, failure tolerance 1", async () => {
    const m = await waitFor(
      'autopilot to report three voters on /metrics',
      async () => {
        const res = await fetch(`http://127.0.0.1:${env.VAULT_INIT_HEALTH_PORT}/metrics`);
        const scrape = parseScrape(await res.text());
        return scrape.value('aurora_vault_raft_voters') === 3 ? scrape : undefined;
      },
      60_000,
      500,
    );
    for (const n of cluster.nodes) assert.equal(m.value('aurora_vault_sealed', { node: n.addr }), 0, n.id);
    assert.equal(m.value('aurora_vault_raft_failure_tolerance'), 1);
    assert.equal(m.value('aurora_vault_init_unseals_total'), 3, 'each node unsealed once');
  });

  test('the app, on a standby, answers through kill -9 of the active node: 503 + Retry-After at most, then 2xx; nothing acknowledged is lost', async (t) => {
    const standby = cluster.nodes.find((n) => n !== active)!;
    const dir = tempDir('ha-app');
    const secret = `cs-writer-${crypto.randomBytes(18).toString('base64url')}`;
    const secretFile = path.join(dir, 'client-writer');
    fs.writeFileSync(secretFile, secret, { mode: 0o400 });
    const configFile = path.join(dir, 'vault-config.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        secret: { 'client-writer': { path: secretFile, scope: { resource_type: 'Client', id: 'writer' } } },
      }),
    );
    app = await AppProcess.start(
      {
        VAULT_ADDR: standby.addr,
        VAULT_APPROLE_DIR: path.join(dirs.approleDir, 'app'),
        SECRETS_CONFIG: configFile,
        CACHE_TTL_SECONDS: '0',
        VAULT_TIMEOUT_MS: '3000',
        AUTH_MAX_FAILURES: '10000',
        ...postgres.env,
      },
      path.join(dir, 'app'),
    );
    const spec = { id: 'writer', permissions: { credentials: ['read', 'write', 'delete', 'resolve'], users: ['*'] } };
    const json = JSON.stringify(clientResource(spec, 'client-writer')).replace(/'/g, "''");
    await postgres.psql(
      postgres.database,
      `INSERT INTO resources (resource_type, id, resource) VALUES ('Client', 'writer', '${json}'::jsonb)`,
    );
    writerAuth = `Basic ${Buffer.from(`writer:${secret}`).toString('base64')}`;
    await app.waitReady(30_000);

    const acknowledged = new Map<string, string>();
    const answers: Answer[] = [];
    let n = 0;
    const writeOne = async () => {
      n += 1;
      const type = `k${n}`;
      const value = `ha-${n}-${crypto.randomBytes(6).toString('hex')}`;
      const a = await call('PUT', `/users/alice/credentials/${type}`, { data: { key: value } });
      answers.push(a);
      if (a.status === 200 || a.status === 201) acknowledged.set(type, value);
      return a;
    };
    for (let i = 0; i < 10; i++) assert.equal((await writeOne()).status, 201);

    let stop = false;
    const writer = (async () => {
      while (!stop) {
        const a = await writeOne();
        if (a.status === 503) await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const killed = active;
    const t0 = Date.now();
    await killed.kill();
    const survivors = cluster.nodes.filter((x) => x !== killed);
    active = await cluster.waitActive(survivors, 60_000);
    const electionMs = Date.now() - t0;
    // Writes succeed again through the app.
    const recoveredAfter = await waitFor(
      'a 2xx write through the app after the failover',
      async () => {
        const a = await writeOne();
        return a.status === 201 ? Date.now() - t0 : undefined;
      },
      60_000,
      100,
    );
    stop = true;
    await writer;
    const by = new Map<number, number>();
    for (const a of answers) by.set(a.status, (by.get(a.status) ?? 0) + 1);
    t.diagnostic(
      `${active.id} active ${electionMs} ms after kill -9 of ${killed.id}; app writes 2xx again after ${recoveredAfter} ms; ` +
        `answers by status: ${JSON.stringify(Object.fromEntries(by))}; slowest ${Math.max(...answers.map((a) => a.ms))} ms`,
    );
    for (const a of answers) {
      assert.ok(
        a.status === 201 || a.status === 503,
        `only 201 or 503 during the failover, got ${a.status}: ${a.text}`,
      );
      if (a.status === 503) assert.match(a.retryAfter ?? '', /^\d+$/, `a 503 carries Retry-After: ${a.text}`);
    }
    // No acknowledged write lost: each resolves to its value, through the app (cache TTL 0: Vault answers).
    for (const [type, value] of acknowledged) {
      const a = await call('POST', `/users/alice/credentials/${type}/resolve`);
      assert.equal(a.status, 200, `${type}: ${a.text}`);
      assert.deepEqual((JSON.parse(a.text) as { data: unknown }).data, { key: value });
    }
  });

  test('the killed node restarts sealed; vault-init unseals it within 2 s, and it is a standby again', async (t) => {
    const killed = cluster.nodes.find((x) => !x.running)!;
    await killed.start();
    const t0 = Date.now();
    await waitFor(
      `${killed.id} unsealed by vault-init`,
      async () => {
        const h = await killed.health().catch(() => undefined);
        return h && !h.sealed ? true : undefined;
      },
      10_000,
      20,
    );
    const ms = Date.now() - t0;
    t.diagnostic(`${killed.id} unsealed ${ms} ms after it answered again`);
    assert.ok(ms <= REUNSEAL_BOUND_MS, `unsealed after ${ms} ms (bound ${REUNSEAL_BOUND_MS} ms)`);
    await waitFor(
      `${killed.id} to be a standby`,
      async () => ((await killed.health().catch(() => undefined))?.standby ? true : undefined),
      30_000,
      100,
    );
    // Healthy again once autopilot counts the restarted node healthy: it is a voter already.
    await waitFor('vault-init healthy', async () => ((await health()).status === 200 ? true : undefined), 30_000, 100);
    assert.equal((await cluster.peers()).length, 3);
  });

  test('the whole cluster killed -9 and restarted: watch mode unseals all three; a fresh vault-init --once too', async (t) => {
    for (const n of cluster.nodes) await n.kill();
    await Promise.all(cluster.nodes.map((n) => n.start()));
    const t0 = Date.now();
    await cluster.waitActive(cluster.nodes, 30_000);
    t.diagnostic(`an active node again ${Date.now() - t0} ms after all three answered`);
    await waitFor(
      'all three unsealed',
      async () => {
        const hs = await Promise.all(cluster.nodes.map((n) => n.health().catch(() => undefined)));
        return hs.every((h) => h && !h.sealed) ? true : undefined;
      },
      30_000,
      100,
    );
    // setup's own path after a full restart (no watch loop): every node sealed, none active until a quorum is unsealed.
    await proc.stop();
    for (const n of cluster.nodes) await n.kill();
    await Promise.all(cluster.nodes.map((n) => n.start()));
    const once = VaultInitProcess.start({ ...env, VAULT_INIT_HEALTH_PORT: env.VAULT_INIT_HEALTH_PORT! }, ['--once']);
    const exit = await once.waitExit(120_000);
    assert.equal(exit.code, 0, once.output().slice(-3000));
    assert.doesNotMatch(once.output(), /"step initialize done"/, 'never initialized again');
    for (const n of cluster.nodes) assert.equal((await n.health()).sealed, false, `${n.id} unsealed by --once`);
    assert.deepEqual(leakedLines(once.output(), secretsOnDisk(dirs)), []);
  });

  test('no key or token in any vault-init log line', () => {
    assert.deepEqual(leakedLines(proc.output(), secretsOnDisk(dirs)), []);
  });
});

describe('VAULT_HA_ADDRS is parsed once, at start', () => {
  test('unset or empty: one Vault at VAULT_ADDR, as before', () => {
    assert.deepEqual(loadConfig({}, []).haAddrs, []);
    assert.deepEqual(loadConfig({ VAULT_HA_ADDRS: ' ' }, []).haAddrs, []);
  });
  test('a list of node addresses, trailing slashes and blanks dropped', () => {
    assert.deepEqual(
      loadConfig({ VAULT_HA_ADDRS: 'http://vault-1:8200/, http://vault-2:8200,http://vault-3:8200' }, []).haAddrs,
      ['http://vault-1:8200', 'http://vault-2:8200', 'http://vault-3:8200'],
    );
  });
  test('a bad value stops vault-init with the variable, the problem and an example', () => {
    assert.throws(
      () => loadConfig({ VAULT_HA_ADDRS: 'vault-1:8200,vault-2:8200' }, []),
      /VAULT_HA_ADDRS holds "vault-1:8200", which is not an http\(s\) URL; example: VAULT_HA_ADDRS=http/,
    );
    assert.throws(
      () => loadConfig({ VAULT_HA_ADDRS: 'http://a:8200,http://a:8200' }, []),
      /VAULT_HA_ADDRS names a node twice/,
    );
    assert.throws(() => loadConfig({ VAULT_HA_ADDRS: 'http://a:8200' }, []), /VAULT_HA_ADDRS names one node only/);
  });
});
