// User story: as a user who outgrows one Vault node, I run `make prod-local-ha` and get three Vault nodes on
// Raft storage, initialized, joined and unsealed by vault-init, with the app healthy; when I kill the active
// node, another takes over, the app keeps answering and nothing Vault acknowledged is lost; the killed node
// comes back and vault-init unseals it; `make prod-local-ha-clean` removes everything of the HA project.
//
// Runs on a real Docker engine with the offline images (OFFLINE=1). Without an engine it is skipped with a loud
// message, except under CI=true, where that is a failure (the same rules as prod-local-walkthrough.test.ts).
// It uses its own compose project (<folder>-ha): it never touches the single-node stack's volumes.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import {
  Engine,
  MIN,
  docker,
  leftovers as projectLeftovers,
  lines,
  removeProject,
  must,
  sh,
  takeComposeTurn,
} from '../e2e/shell.js';
import { repoRoot, tempDir, waitFor, lookupToken } from '@aurora/process';
import { VaultClient } from '@aurora/common';

const root = repoRoot();
const PROJECT = `${path
  .basename(root)
  .toLowerCase()
  .replace(/[^a-z0-9_-]/g, '')}-ha`;
const NODES = ['vault-1', 'vault-2', 'vault-3'];
const CONTAINERS = ['vault', 'vault-init', 'vault-agent', ...NODES];
const inCi = process.env.CI === 'true';
const dockerSession = `e2e-ha-${process.pid}-${Date.now()}`;

function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OFFLINE: '1', AURORA_DOCKER_SESSION: dockerSession };
  for (const v of [
    'VAULT_TOKEN',
    'VAULT_ADDR',
    'VAULT_IMAGE',
    'POSTGRES_IMAGE',
    'NODE_IMAGE',
    'COMPOSE_PROJECT_NAME',
    'COMPOSE_FILE',
    'COMPOSE_PROFILES',
    'HA',
  ])
    delete env[v];
  return env;
}

/** `vault status` of one node, from inside its container (no token needed). */
function nodeStatus(node: string): { sealed: boolean; active: boolean } | undefined {
  const r = docker(['exec', node, 'vault', 'status', '-format=json']);
  try {
    const s = JSON.parse(r.stdout) as { sealed: boolean; is_self?: boolean };
    return { sealed: s.sealed, active: !s.sealed && s.is_self === true };
  } catch {
    return undefined;
  }
}

const leftovers = () => projectLeftovers(PROJECT);
function removeLeftovers(): void {
  removeProject(PROJECT);
}

const engine = new Engine(dockerSession);
const skipReason = engine.ensure();
if (skipReason) {
  process.stderr.write(
    `\n${'!'.repeat(100)}\n!! COMPOSE HA E2E ${inCi ? 'FAILED' : 'SKIPPED'}: ${skipReason}.\n!! make prod-local-ha was NOT tested.\n${'!'.repeat(100)}\n`,
  );
}

const SUITE = 'make prod-local-ha: three Raft nodes, kill the active one, nothing lost (offline images)';
if (skipReason && !inCi) test(SUITE, { skip: skipReason }, () => {});
else
  describe(SUITE, () => {
    const env = userEnv();
    let rootToken = '';
    let broken: string | undefined;
    let killed = '';
    const written = new Map<string, string>();

    function step(name: string, timeoutMs: number, fn: (t: TestContext) => Promise<void> | void): void {
      test(name, { timeout: timeoutMs }, async (t) => {
        if (broken) {
          t.skip(`an earlier step failed: ${broken}`);
          return;
        }
        try {
          await fn(t);
        } catch (err) {
          broken = name;
          throw err;
        }
      });
    }
    /**
     * A KV write through the `vault` container's CLI (the proxy, the operator token): true when Vault acknowledged
     * it. One path segment below users/, as the docs' test-secret: doctor lists it as unmanaged, not as an orphan.
     */
    const put = async (key: string, value: string): Promise<boolean> => {
      const r = await sh(`docker exec vault vault kv put aurora/users/e2e-ha-${key} value=${value}`, env, MIN);
      if (r.status === 0) written.set(key, value);
      return r.status === 0;
    };
    const appReady = async (): Promise<number> => {
      try {
        return (await fetch('http://127.0.0.1:8080/readyz', { signal: AbortSignal.timeout(5000) })).status;
      } catch {
        return 0;
      }
    };

    const releaseLock = takeComposeTurn('e2e-ha', engine, skipReason);

    before(() => {
      if (skipReason) assert.fail(`CI=true: ${skipReason}`);
      removeLeftovers();
      for (const name of CONTAINERS) {
        const labels = docker(['inspect', '-f', '{{index .Config.Labels "com.docker.compose.project"}}', name]);
        if (labels.status === 0)
          assert.fail(
            `a container named ${name} exists (compose project '${labels.stdout.trim()}'): stop that stack first (make down / make prod-local-clean); this test leaves it alone.`,
          );
      }
    });

    after(async () => {
      if (skipReason) return;
      const r = await sh('make prod-local-ha-clean', env, 3 * MIN);
      if (r.status !== 0) process.stderr.write(`[e2e-ha] make prod-local-ha-clean failed:\n${r.stderr}\n`);
      const l = leftovers();
      removeLeftovers();
      engine.stopIfStarted();
      releaseLock();
      assert.deepEqual(
        l,
        { containers: [], volumes: [], networks: [] },
        'make prod-local-ha-clean left something of the HA project behind',
      );
    });

    step('make prod-local-ha brings three nodes and the stack up healthy', 30 * MIN, async (t) => {
      const r = must(await sh('make prod-local-ha', env, 29 * MIN, true), 'make prod-local-ha');
      t.diagnostic(`make prod-local-ha took ${(r.ms / 1000).toFixed(1)} s`);
      assert.match(r.stdout + r.stderr, /HA profile: three Vault nodes/);
      const logs = spawnSync('bash', ['-c', 'docker logs vault-init 2>&1 | grep "Root Token:"'], {
        encoding: 'utf8',
      }).stdout;
      rootToken = /hvs\.[A-Za-z0-9_-]+/.exec(logs)?.[0] ?? '';
      assert.ok(rootToken, 'a root token in the banner');
    });

    step('every node unsealed, one active, three Raft peers; the app is ready', 3 * MIN, async () => {
      const states = NODES.map(nodeStatus);
      assert.ok(
        states.every((s) => s && !s.sealed),
        `all unsealed: ${JSON.stringify(states)}`,
      );
      assert.equal(states.filter((s) => s?.active).length, 1, 'exactly one active node');
      // make prod-local-ha reports healthy only once Raft autopilot does, with every node a voter: no waiting here.
      const asRoot = (args: string[]) => docker(['exec', '-e', `VAULT_TOKEN=${rootToken}`, 'vault', 'vault', ...args]);
      const peers = (
        JSON.parse(asRoot(['operator', 'raft', 'list-peers', '-format=json']).stdout) as {
          data: { config: { servers: Array<{ node_id: string; voter: boolean }> } };
        }
      ).data.config.servers;
      assert.ok(
        peers.length === 3 && peers.every((p) => p.voter),
        `three voters as soon as it is healthy: ${JSON.stringify(peers)}`,
      );
      // The CLI prints the API's struct with its Go field names (Healthy, FailureTolerance), not the HTTP API's
      // snake_case; either shape is read here.
      type Autopilot = { healthy?: boolean; failure_tolerance?: number; Healthy?: boolean; FailureTolerance?: number };
      const autopilot = JSON.parse(asRoot(['operator', 'raft', 'autopilot', 'state', '-format=json']).stdout) as
        ({ data?: Autopilot } & Autopilot) | undefined;
      const ap: Autopilot = autopilot?.data ?? autopilot ?? {};
      assert.equal(ap.healthy ?? ap.Healthy, true, `autopilot: healthy (${JSON.stringify(ap).slice(0, 300)})`);
      assert.equal(ap.failure_tolerance ?? ap.FailureTolerance, 1, 'autopilot: failure tolerance 1 for three nodes');
      assert.deepEqual(peers.map((p) => p.node_id).sort(), NODES);
      assert.equal(await appReady(), 200);
      // vault-init's and make status's messages say "make ps": without HA=1 it shows the stack that runs.
      const ps = must(await sh('make ps', env, MIN), 'make ps');
      for (const n of NODES) assert.match(ps.stdout, new RegExp(`\\b${n}\\b`), `make ps lists ${n}`);
      // make status finds the HA stack on its own. Each node audits to its output, which Docker rotates: that is
      // fine, not a file whose size nobody can see.
      // -s: under make test this make is a sub-make, which would print "Entering directory" lines around the JSON.
      const status = await sh('make -s status JSON=1', env, MIN);
      assert.ok(status.status === 0 || status.status === 1, `make status found no stack: ${status.stderr}`);
      const report = JSON.parse(status.stdout) as {
        lines: Array<{ id: string; level: string; summary: string }>;
      };
      const line = (id: string) => report.lines.find((l) => l.id === id);
      assert.equal(line('vault-ha')?.level, 'ok', status.stdout);
      assert.equal(line('audit-log')?.level, 'ok', status.stdout);
    });

    step(
      'kill the active node: another takes over, the app answers 200 or 503 and then 200, no acknowledged write lost',
      5 * MIN,
      async (t) => {
        for (let i = 0; i < 5; i++)
          assert.ok(await put(`before-${i}`, `b${i}`), 'writes through the vault container before the kill');
        killed = NODES.find((n) => nodeStatus(n)?.active)!;
        assert.ok(killed, 'an active node');
        const t0 = Date.now();
        must(await sh(`docker kill ${killed}`, env, MIN), 'docker kill');
        const statuses: number[] = [];
        const next = await waitFor(
          'another active node',
          async () => {
            statuses.push(await appReady());
            return NODES.filter((n) => n !== killed).find((n) => nodeStatus(n)?.active);
          },
          2 * MIN,
          200,
        );
        const electionMs = Date.now() - t0;
        await waitFor(
          'the app ready again',
          async () => {
            const s = await appReady();
            statuses.push(s);
            return s === 200 ? true : undefined;
          },
          MIN,
          200,
        );
        t.diagnostic(
          `${next} active ${electionMs} ms after docker kill ${killed}; app /readyz answers: ${[...new Set(statuses)].join(',')}`,
        );
        assert.ok(
          statuses.every((s) => s === 200 || s === 503),
          `the app answered only 200 or 503: ${statuses.join(',')}`,
        );
        assert.ok(
          await waitFor(
            'a write after the failover',
            async () => ((await put('after', 'a')) ? true : undefined),
            MIN,
            500,
          ),
        );
        for (const [key, value] of written) {
          const r = await sh(`docker exec vault vault kv get -field=value aurora/users/e2e-ha-${key}`, env, MIN);
          assert.equal(r.stdout.trim(), value, `${key}: ${r.stderr}`);
        }
      },
    );

    step('the killed node starts again sealed and vault-init unseals it', 3 * MIN, async (t) => {
      const t0 = Date.now();
      must(await sh(`docker start ${killed}`, env, MIN), 'docker start');
      await waitFor(
        `${killed} unsealed`,
        () => {
          const s = nodeStatus(killed);
          return s && !s.sealed ? true : undefined;
        },
        MIN,
        200,
      );
      t.diagnostic(`${killed} unsealed ${Date.now() - t0} ms after docker start (includes the container's start)`);
      // Unsealed is not yet serving: until it has found the active node it answers 500 "active cluster node not
      // found" to whatever the vault-ha alias sends it (docs/operations.md). Its sys/leader names the active node then.
      await waitFor(
        `${killed} to know the active node`,
        () => {
          // Inside the killed node's container: its address is not reachable from this machine.
          // eslint-disable-next-line no-restricted-syntax
          const r = docker(['exec', killed, 'wget', '-q', '-O', '-', 'http://127.0.0.1:8200/v1/sys/leader']);
          try {
            return (JSON.parse(r.stdout) as { leader_address?: string }).leader_address ? true : undefined;
          } catch {
            return undefined;
          }
        },
        MIN,
        100,
      );
      t.diagnostic(`${killed} serving (knows the active node) ${Date.now() - t0} ms after docker start`);
      // With a node down vault-init is not healthy (the cluster would not survive losing another one); with all
      // three back and voting it is healthy again.
      await waitFor(
        'vault-init healthy again (every node a voter)',
        () =>
          spawnSync('docker', ['inspect', '-f', '{{.State.Health.Status}}', 'vault-init'], {
            encoding: 'utf8',
          }).stdout.trim() === 'healthy'
            ? true
            : undefined,
        2 * MIN,
        1000,
      );
    });

    // ---- operations on the HA stack ----
    step(
      'make doctor, make backup (online: no node stops), change, make restore CONFIRM=1 → exactly that state; make root-token',
      10 * MIN,
      async (t) => {
        const APP = 'http://localhost:8080';
        const admin = must(
          await sh('docker exec vault vault kv get -field=client-secret secret/aurora/admin', env, MIN),
          'the admin secret',
        ).stdout.trim();
        const status = async (line: string): Promise<string> =>
          must(await sh(`${line} -s -o /dev/null -w "%{http_code}"`, env, MIN), line).stdout.trim();
        const dir = tempDir('e2e-ha-backups');
        const opsEnv = { ...env, BACKUP_DIR: dir, BACKUP_PASSPHRASE: `e2e-ha-passphrase-${Date.now()}` };
        const run = (line: string, timeoutMs = 3 * MIN) => sh(line, opsEnv, timeoutMs);

        const doctor = await run('make doctor');
        assert.equal(doctor.status, 0, `make doctor on the HA stack: ${doctor.stdout}${doctor.stderr}`);
        const kept = `kept_ha_${Date.now()}`;
        assert.equal(
          await status(
            `curl -u admin:${admin} -X PUT ${APP}/users/bob/credentials/aws -H 'content-type: application/json' -d '{"data":{"key":"${kept}"}}'`,
          ),
          '201',
        );
        const started = () => NODES.map((n) => docker(['inspect', '-f', '{{.State.StartedAt}}', n]).stdout.trim());
        const before = started();
        const b = must(await run('make backup'), 'make backup');
        t.diagnostic(
          lines(b.stderr)
            .filter((l) => /cut:|online|wrote/.test(l))
            .join(' | '),
        );
        assert.match(b.stderr, /online backup: Raft storage/);
        assert.doesNotMatch(b.stderr, /PAUSE/);
        assert.deepEqual(started(), before, 'no Vault node was restarted by the backup');
        assert.ok(
          NODES.every((n) => nodeStatus(n)?.sealed === false),
          'every node stayed unsealed',
        );
        const archives = fs.readdirSync(dir).filter((f) => f.startsWith('aurora-backup-'));
        assert.equal(archives.length, 1, archives.join(', '));
        const archive = path.join(dir, archives[0]!);
        assert.equal(fs.statSync(archive).mode & 0o777, 0o600);
        assert.match(archive, /\.enc$/);

        assert.equal(await status(`curl -u admin:${admin} -X DELETE ${APP}/users/bob/credentials/aws`), '204');
        assert.equal(
          await status(
            `curl -u admin:${admin} -X PUT ${APP}/users/carol/credentials/gh -H 'content-type: application/json' -d '{"data":{"key":"after-backup"}}'`,
          ),
          '201',
        );
        assert.notEqual(
          (await run(`make restore FILE=${archive}`)).status,
          0,
          'restore over a running stack without CONFIRM=1',
        );
        const restored = must(await run(`make restore FILE=${archive} CONFIRM=1`, 6 * MIN), 'make restore CONFIRM=1');
        assert.match(restored.stdout + restored.stderr, /0 dangling references, 0 orphans/);
        const resolved = must(
          await sh(`curl -sS -u admin:${admin} -X POST ${APP}/users/bob/credentials/aws/resolve`, env, MIN),
          'resolve after restore',
        );
        assert.deepEqual((JSON.parse(resolved.stdout) as { data: unknown }).data, { key: kept });
        assert.equal(
          await status(`curl -u admin:${admin} ${APP}/users/carol/credentials/gh`),
          '404',
          'a credential made after the backup survived the restore',
        );
        await waitFor(
          'every node unsealed after the restore',
          () => (NODES.every((n) => nodeStatus(n)?.sealed === false) ? true : undefined),
          2 * MIN,
          500,
        );

        const token = must(await run('make -s root-token', MIN), 'make root-token').stdout.trim();
        assert.equal(token.split('\n').length, 1, 'make root-token prints the token alone on stdout');
        assert.deepEqual(await lookupToken('http://127.0.0.1:8200', token), { status: 200, policies: ['root'] });
        await new VaultClient({ addr: 'http://127.0.0.1:8200', token }).write('auth/token/revoke-self', {});
        assert.equal(await status(`curl -u admin:${admin} -X DELETE ${APP}/users/bob/credentials/aws`), '204');
      },
    );
  });
