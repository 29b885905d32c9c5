// User story: as a user with Docker, I run `make prod-local` and then the commands of my docs, literally:
// the root token from `docker logs vault-init`, `docker exec vault vault kv ...` with nothing exported,
// the health endpoint and the UI, a Vault restart that heals itself, `make down` + `make prod-local` that keep
// my Vault, and `make prod-local-clean` that removes everything so the next start is a fresh Vault.
//
// Runs on a real Docker engine with the offline images (OFFLINE=1: no registry needed). Without an engine it
// is skipped with a loud message, except under CI=true, where that is a failure.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  Engine,
  MIN,
  docker,
  leftovers as projectLeftovers,
  removeProject,
  lines,
  must,
  sh,
  takeComposeTurn,
} from './shell.js';
import {
  freePort,
  postgresBinDir,
  repoRoot,
  tempDir,
  lookupToken,
  parseScrape,
  transientPgPassFile,
  type Scrape,
} from '@aurora/process';
import { VaultClient } from '@aurora/common';

// Compose's default project name for this checkout: what `make prod-local` and a plain `docker compose` use.
const PROJECT = path
  .basename(repoRoot())
  .toLowerCase()
  .replace(/[^a-z0-9_-]/g, '');
const CONTAINERS = ['vault', 'vault-init', 'vault-agent'];
const VAULT = 'http://127.0.0.1:8200';
const inCi = process.env.CI === 'true';
// One id for this file's run: stop-docker.sh stops an engine only if this run's ensure-docker.sh started it.
const dockerSession = `e2e-${process.pid}-${Date.now()}`;

/** The environment of the user's shell: no Vault variables exported by hand, offline images, our wrapper first. */
function userEnv(wrapperDir: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OFFLINE: '1', AURORA_DOCKER_SESSION: dockerSession };
  for (const v of [
    'VAULT_TOKEN',
    'VAULT_ADDR',
    'VAULT_IMAGE',
    'POSTGRES_IMAGE',
    'NODE_IMAGE',
    'COMPOSE',
    'COMPOSE_PROJECT_NAME',
  ])
    delete env[v];
  if (wrapperDir) env.PATH = `${wrapperDir}:${env.PATH ?? ''}`;
  return env;
}

async function waitUnsealed(timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const h = await new VaultClient({ addr: VAULT, timeoutMs: 3000 }).health().catch((err: Error) => err);
    if (!(h instanceof Error) && h.initialized && !h.sealed && !h.standby) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs)
      assert.fail(
        `Vault not unsealed ${timeoutMs} ms after the restart (last sys/health: ${h instanceof Error ? h.message : JSON.stringify(h)})`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

function rootTokenLines(logs: string): string[] {
  return lines(logs).filter((l) => l.includes('Root Token:'));
}
function tokenOf(line: string): string {
  const m = /(hvs\.[A-Za-z0-9_-]+)/.exec(line);
  assert.ok(m, `no hvs. token in: ${line}`);
  return m[1]!;
}

/** Containers, volumes and network of an earlier run of this project; nothing else is touched. */
const leftovers = () => projectLeftovers(PROJECT);
function removeLeftovers(): void {
  removeProject(PROJECT);
  for (const name of CONTAINERS) {
    const labels = docker([
      'inspect',
      '-f',
      '{{index .Config.Labels "com.docker.compose.project"}} {{index .Config.Labels "com.docker.compose.service"}}',
      name,
    ]);
    if (labels.status !== 0) continue;
    const [project, service] = labels.stdout.trim().split(' ');
    // This compose file run by hand under another project name (the checkout's folder): same service, same
    // container name. Only the container goes; that project's volumes are not in the way and are left alone.
    if (project && service === name) {
      docker(['rm', '-f', name]);
      continue;
    }
    assert.fail(
      `a container named ${name} exists that this project did not make (compose project '${project ?? ''}'). ` +
        `The stack needs the name: remove it yourself (docker rm -f ${name}) and rerun; this test leaves it alone.`,
    );
  }
}

/** `docker compose ...` as the docs write it, forwarded to docker-compose v1 when the v2 plugin is absent. */
function composeWrapper(): string | undefined {
  if (docker(['compose', 'version']).status === 0) return undefined;
  const realDocker = spawnSync('bash', ['-c', 'command -v docker'], { encoding: 'utf8' }).stdout.trim();
  const dir = tempDir('e2e-docker-wrapper');
  fs.writeFileSync(
    path.join(dir, 'docker'),
    `#!/usr/bin/env bash\n# docker compose (v2 syntax) -> docker-compose (v1) on machines without the plugin.\n` +
      `if [ "\${1:-}" = compose ]; then shift\n` +
      // v2 gives `exec` no TTY when stdin is not a terminal; v1 would fail with "the input device is not a TTY".
      // Only when the caller did not pass -T already: v1 given `exec -T -T` prints nothing and exits 0.
      `  if [ "\${1:-}" = exec ] && [ ! -t 0 ] && [ "\${2:-}" != -T ]; then shift; exec docker-compose exec -T "$@"; fi\n` +
      `  exec docker-compose "$@"\nfi\nexec ${JSON.stringify(realDocker)} "$@"\n`,
    { mode: 0o755 },
  );
  return dir;
}

// ---------------------------------------------------------------------------------------------------------
// Started here only when `make test` did not already (test-one, or a direct run).
const engine = new Engine(dockerSession);
const skipReason = engine.ensure();
if (skipReason) {
  const banner =
    `\n${'!'.repeat(100)}\n!! COMPOSE E2E ${inCi ? 'FAILED' : 'SKIPPED'}: ${skipReason}.\n!! make prod-local and the user's documented commands were NOT tested.` +
    `\n!! Start an engine (sudo dockerd &, Docker Desktop) and rerun: make test-e2e\n${'!'.repeat(100)}\n`;
  process.stderr.write(banner);
}

const SUITE = 'make prod-local and the documented commands, literally (offline images)';
// A skipped test rather than a skipped suite: the runner counts it in its "skipped" total.
if (skipReason && !inCi) test(SUITE, { skip: skipReason }, () => {});
else
  describe(SUITE, () => {
    let env: NodeJS.ProcessEnv;
    let rootToken = '';
    let prodLocalOutput = '';
    let broken: string | undefined;
    const timings: Record<string, number> = {};

    /** Later steps make no sense after a failed one: they are reported as skipped with the cause. */
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

    const releaseLock = takeComposeTurn('e2e', engine, skipReason);

    before(() => {
      if (skipReason) assert.fail(`CI=true: ${skipReason}`);
      env = userEnv(composeWrapper());
      removeLeftovers();
    });

    after(async () => {
      if (!skipReason && env) {
        const r = await sh('make prod-local-clean', env, 3 * MIN);
        if (r.status !== 0) process.stderr.write(`[e2e] final make prod-local-clean failed:\n${r.stderr}\n`);
        removeLeftovers();
      }
      engine.stopIfStarted();
      process.stderr.write(
        `[e2e] timings (s): ${Object.entries(timings)
          .map(([k, v]) => `${k}=${(v / 1000).toFixed(1)}`)
          .join(' ')}\n`,
      );
      releaseLock();
    });

    step(
      'a port the stack publishes held by another program: make prod-local starts nothing and names it',
      5 * MIN,
      async () => {
        const holder = net.createServer();
        await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
        const port = (holder.address() as net.AddressInfo).port;
        try {
          const r = await sh(`APP_PORT=${port} make prod-local`, env, 4 * MIN);
          assert.notEqual(r.status, 0, 'make prod-local started although APP_PORT was taken');
          assert.match(r.stderr, new RegExp(`port ${port} \\(APP_PORT\\) is in use by node \\(pid ${process.pid}\\)`));
          assert.match(r.stderr, /nothing was started/);
          assert.deepEqual(leftovers().containers, [], 'containers were created');
        } finally {
          holder.close();
        }
      },
    );

    // The first start may build the offline images and the services' images: minutes, once.
    step('make prod-local brings the stack up healthy', 30 * MIN, async () => {
      const r = must(await sh('make prod-local', env, 29 * MIN, true), 'make prod-local');
      timings['first prod-local'] = r.ms;
      prodLocalOutput = r.stdout + r.stderr;
      assert.match(r.stdout + r.stderr, /http:\/\/localhost:8200\/ui/);
      assert.match(r.stdout + r.stderr, /docker logs vault-init 2>&1 \| grep "Root Token:"/);
    });

    step('1. docker logs vault-init 2>&1 | grep "Root Token:" → one line whose hvs. token works', 2 * MIN, async () => {
      const r = must(await sh('docker logs vault-init 2>&1 | grep "Root Token:"', env, MIN), 'the root token grep');
      const found = rootTokenLines(r.stdout);
      assert.equal(found.length, 1, `expected one "Root Token:" line, got:\n${r.stdout}`);
      rootToken = tokenOf(found[0]!);
      assert.deepEqual(await lookupToken(VAULT, rootToken), { status: 200, policies: ['root'] });
    });

    step('2. docker exec vault vault kv put / get / list, with nothing exported', 2 * MIN, async () => {
      must(await sh("docker exec vault vault kv put aurora/users/test-secret value='hello'", env, MIN), 'kv put');
      const get = must(await sh('docker exec vault vault kv get aurora/users/test-secret', env, MIN), 'kv get');
      assert.match(get.stdout, /^value\s+hello$/m);
      const list = must(await sh('docker exec vault vault kv list aurora/users/', env, MIN), 'kv list');
      assert.match(list.stdout, /^test-secret$/m);
    });

    step('3. docker exec vault vault token capabilities aurora/users/ answers', MIN, async () => {
      const r = must(
        await sh('docker exec vault vault token capabilities aurora/users/', env, MIN),
        'token capabilities',
      );
      assert.match(r.stdout.trim(), /^(root|deny|[a-z]+(, [a-z]+)*)$/, r.stdout);
    });

    // The walkthrough's own commands, verbatim as the user types them.
    /* eslint-disable no-restricted-syntax */
    step('4. curl http://localhost:8200/v1/sys/health → 200, initialized, unsealed; /ui/ answers', MIN, async () => {
      const r = must(
        await sh('curl -sS -w "\\n%{http_code}" http://localhost:8200/v1/sys/health', env, MIN),
        'curl sys/health',
      );
      const [body, code] = [
        r.stdout.slice(0, r.stdout.lastIndexOf('\n')),
        r.stdout.slice(r.stdout.lastIndexOf('\n') + 1),
      ];
      assert.equal(code, '200', r.stdout);
      const health = JSON.parse(body) as { initialized: boolean; sealed: boolean };
      assert.equal(health.initialized, true);
      assert.equal(health.sealed, false);
      const ui = must(
        await sh('curl -sS -L -o /dev/null -w "%{http_code}" http://localhost:8200/ui/', env, MIN),
        'curl /ui/',
      );
      assert.equal(ui.stdout, '200');
    });
    /* eslint-enable no-restricted-syntax */

    step(
      '5. docker restart vault → vault-init re-unseals it within seconds; the secret is still there',
      3 * MIN,
      async () => {
        const r = must(await sh('docker restart vault', env, MIN), 'docker restart vault');
        timings['docker restart vault'] = r.ms;
        const ms = await waitUnsealed(60_000);
        timings['re-unseal after restart'] = ms;
        assert.ok(ms < 30_000, `re-unsealed only after ${ms} ms`);
        const get = must(
          await sh('docker exec vault vault kv get -field=value aurora/users/test-secret', env, MIN),
          'kv get after restart',
        );
        assert.equal(get.stdout.trim(), 'hello');
      },
    );

    // ---- the Clients walkthrough of docs/file-secrets.md, adapted from kubectl to compose ----
    let admin = '';
    const APP = 'http://localhost:8080';
    const status = async (line: string): Promise<string> =>
      must(await sh(`${line} -s -o /dev/null -w "%{http_code}"`, env, MIN), line).stdout.trim();
    /** Polls until `probe` holds; returns how long it took. */
    async function within(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<number> {
      const t0 = Date.now();
      while (!(await probe())) {
        if (Date.now() - t0 > timeoutMs) assert.fail(`${what}: not within ${timeoutMs / 1000} s`);
        await new Promise((r) => setTimeout(r, 500));
      }
      return Date.now() - t0;
    }

    step(
      'Clients walkthrough: kv put secret/aidbox/client → the agent renders it → Basic auth 200 / 401',
      5 * MIN,
      async () => {
        admin = must(
          await sh('docker exec vault vault kv get -field=client-secret secret/aurora/admin', env, MIN),
          'the admin secret',
        ).stdout.trim();
        assert.ok(admin.length >= 32, 'vault-init generated an admin secret');
        assert.ok(
          !prodLocalOutput.includes(admin),
          'make prod-local printed the admin secret (it must print the command that fetches it)',
        );
        must(
          await sh("docker exec vault vault kv put secret/aidbox/client client-secret='super-secret-value'", env, MIN),
          'kv put secret/aidbox/client',
        );
        // The agent started before this secret existed: its first read comes with its retry backoff (≤ 1 min).
        timings['agent first render'] = await within(
          'docker compose exec app ls /run/vault-secrets/ lists client-secret',
          3 * MIN,
          async () =>
            /^client-secret$/m.test((await sh('docker compose exec app ls /run/vault-secrets/', env, MIN)).stdout),
        );
        const clientJson = path.join(tempDir('e2e-client'), 'client.json');
        fs.writeFileSync(
          clientJson,
          JSON.stringify({
            resourceType: 'Client',
            id: 'basic',
            grant_types: ['basic'],
            _secret: {
              extension: [
                { url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'masked' },
                { url: 'http://health-samurai.io/fhir/secret-reference', valueString: 'client-secret' },
              ],
            },
          }),
        );
        const put = must(
          await sh(
            `curl -sS -u admin:${admin} -X PUT localhost:8080/fhir/Client/basic -H 'content-type: application/json' -d @${clientJson}`,
            env,
            MIN,
          ),
          'PUT Client',
        );
        assert.doesNotMatch(put.stdout, /super-secret-value/);
        assert.equal(await status('curl -u basic:super-secret-value localhost:8080/fhir/Patient'), '200');
        assert.equal(await status('curl -u basic:wrong-password     localhost:8080/fhir/Patient'), '401');
      },
    );

    step(
      "Clients walkthrough, rotation: kv put a new value → within the agent's poll interval the new one is 200, the old 401, no restart",
      5 * MIN,
      async () => {
        const appBefore = docker([
          'inspect',
          '-f',
          '{{.State.StartedAt}}',
          lines(must(await sh('docker compose ps -q app', env, MIN), 'ps app').stdout)[0]!,
        ]).stdout;
        must(
          await sh("docker exec vault vault kv put secret/aidbox/client client-secret='new-secret-value'", env, MIN),
          'kv put (rotate)',
        );
        // Wait for the render inside the app's container: this measures the agent alone. (A client calling with
        // the new password meanwhile gets a 401 per call and never a 429: retrying one secret is not guessing.)
        const ms = await within(
          'the agent to render the new value',
          2 * MIN,
          async () =>
            (
              await sh(
                'docker compose exec app sh -c \'test "$(cat /run/vault-secrets/client-secret)" = new-secret-value\'',
                env,
                MIN,
              )
            ).status === 0,
        );
        timings['rotation rendered'] = ms;
        // The agent re-reads KV secrets every 0.85-0.95 x static_secret_render_interval (30 s): seen in one interval.
        assert.ok(ms <= 35_000, `the rotation took ${ms} ms to render; the agent's poll interval is 30 s`);
        assert.equal(await status('curl -u basic:new-secret-value localhost:8080/fhir/Patient'), '200');
        assert.equal(await status('curl -u basic:super-secret-value localhost:8080/fhir/Patient'), '401');
        const appAfter = docker([
          'inspect',
          '-f',
          '{{.State.StartedAt}}',
          lines(must(await sh('docker compose ps -q app', env, MIN), 'ps app').stdout)[0]!,
        ]).stdout;
        assert.equal(appAfter, appBefore, 'the app was restarted');
      },
    );

    // ---- the credential round trip ----
    step(
      'credential round trip: PUT → the row holds only the reference → resolve → vault kv get → DELETE',
      3 * MIN,
      async () => {
        const canary = `ghp_e2e_canary_${Date.now()}`;
        const put = must(
          await sh(
            `curl -sS -u admin:${admin} -X PUT ${APP}/users/alice/credentials/github -H 'content-type: application/json' -d '{"data":{"token":"${canary}"}}'`,
            env,
            MIN,
          ),
          'PUT credential',
        );
        assert.equal(
          (JSON.parse(put.stdout) as { reference: string }).reference,
          'vault:kv/data/aurora/users/alice/github',
          put.stdout,
        );
        assert.doesNotMatch(put.stdout, new RegExp(canary));
        const row = must(
          await sh(
            `docker compose exec postgres psql -U aurora -d aurora -Atc "SELECT reference FROM credential_references WHERE user_id = 'alice'"`,
            env,
            MIN,
          ),
          'the row',
        );
        assert.equal(row.stdout.trim(), 'vault:kv/data/aurora/users/alice/github');
        const dump = must(await sh('docker compose exec postgres pg_dump -U aurora aurora', env, MIN), 'pg_dump');
        assert.doesNotMatch(dump.stdout, new RegExp(canary), 'a secret value reached PostgreSQL');
        const resolved = must(
          await sh(`curl -sS -u admin:${admin} -X POST ${APP}/users/alice/credentials/github/resolve`, env, MIN),
          'resolve',
        );
        assert.deepEqual((JSON.parse(resolved.stdout) as { data: unknown }).data, { token: canary });
        const kv = must(
          await sh('docker exec vault vault kv get -field=token aurora/users/alice/github', env, MIN),
          'vault kv get',
        );
        assert.equal(kv.stdout.trim(), canary);
        assert.equal(await status(`curl -u admin:${admin} -X DELETE ${APP}/users/alice/credentials/github`), '204');
        assert.equal(
          must(
            await sh(
              `docker compose exec postgres psql -U aurora -d aurora -Atc "SELECT count(*) FROM credential_references"`,
              env,
              MIN,
            ),
            'rows',
          ).stdout.trim(),
          '0',
        );
        assert.notEqual(
          (await sh('docker exec vault vault kv get aurora/users/alice/github', env, MIN)).status,
          0,
          'the secret outlived DELETE',
        );
        const logs = must(
          await sh('docker compose logs --no-color app vault-init vault-agent', env, MIN),
          'compose logs',
        );
        assert.doesNotMatch(
          logs.stdout + logs.stderr,
          new RegExp(`${canary}|super-secret-value|new-secret-value`),
          'a secret value reached a log',
        );
      },
    );

    // ---- aurora-secrets run inside the app container, with the app's identity (docs/run.md) ----
    step(
      'docker compose exec app aurora-secrets run -- … gets the value in its environment, masked in its output',
      3 * MIN,
      async () => {
        const canary = `cli_e2e_canary_${Date.now()}`;
        // secret/ is readable by the app's policy and outside the credentials doctor checks.
        must(await sh(`docker exec vault vault kv put secret/cli-e2e/db password='${canary}'`, env, MIN), 'kv put');
        const ref = 'DB_PASSWORD=vault:kv/data/secret/cli-e2e/db#password';
        const same = must(
          await sh(
            `docker compose exec -e ${ref} app aurora-secrets run -- sh -c 'test "$DB_PASSWORD" = ${canary} && echo same'`,
            env,
            MIN,
          ),
          'aurora-secrets run (compare)',
        );
        assert.equal(same.stdout.trim(), 'same');
        const printed = must(
          await sh(`docker compose exec -e ${ref} app aurora-secrets run -- sh -c 'echo "db=$DB_PASSWORD"'`, env, MIN),
          'aurora-secrets run (print)',
        );
        assert.equal(printed.stdout.trim(), 'db=<redacted:DB_PASSWORD>');
        assert.doesNotMatch(printed.stdout + printed.stderr, new RegExp(canary));
        const exit = await sh(`docker compose exec -e ${ref} app aurora-secrets run -- sh -c 'exit 3'`, env, MIN);
        assert.equal(exit.status, 3, exit.stderr);
        const resolved = must(
          await sh('docker compose exec app aurora-secrets resolve vault:kv/data/secret/cli-e2e/db#password', env, MIN),
          'aurora-secrets resolve',
        );
        assert.equal(resolved.stdout.trim(), canary);
        const denied = await sh(
          "docker compose exec -e X=vault:kv/data/aurora/private/x#k app aurora-secrets run -- sh -c 'echo started'",
          env,
          MIN,
        );
        assert.equal(denied.status, 2, denied.stdout + denied.stderr);
        assert.match(denied.stderr, /X: Vault denied/);
        assert.doesNotMatch(denied.stdout, /started/);
      },
    );

    step(
      'metrics on 127.0.0.1: app, vault-init, Vault (metrics token); they move with traffic and a restart; no secret',
      4 * MIN,
      async () => {
        const token = must(
          await sh('docker exec vault cat /vault/cli/metrics-token', env, MIN),
          'metrics token',
        ).stdout;
        const scrapes: string[] = [];
        const scrape = async (url: string, headers: Record<string, string> = {}): Promise<Scrape> => {
          const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
          const text = await res.text();
          assert.equal(res.status, 200, `${url}: ${text.slice(0, 200)}`);
          scrapes.push(text);
          return parseScrape(text);
        };
        const app = () => scrape('http://127.0.0.1:9464/metrics');
        const init = () => scrape('http://127.0.0.1:8201/metrics');
        const before0 = await app();
        const init0 = await init();
        const node = { node: 'http://vault:8200' };
        assert.equal(init0.value('aurora_vault_sealed', node), 0);
        const canary = `ghp_e2e_canary_metrics_${Date.now()}`;
        const put = `curl -u admin:${admin} -X PUT ${APP}/users/mia/credentials/db -H 'content-type: application/json'`;
        assert.equal(await status(`${put} -d '{"data":{"token":"${canary}"}}'`), '201');
        for (let i = 0; i < 3; i++)
          assert.equal(await status(`curl -u admin:${admin} -X POST ${APP}/users/mia/credentials/db/resolve`), '200');
        assert.equal(await status(`curl -u admin:wrong-password ${APP}/users/mia/credentials`), '401');
        const after0 = await app();
        const d = (name: string, labels: Record<string, string>) =>
          (after0.value(name, labels) ?? 0) - (before0.value(name, labels) ?? 0);
        assert.equal(d('aurora_app_resolves_total', { outcome: 'miss' }), 1);
        assert.equal(d('aurora_app_resolves_total', { outcome: 'hit' }), 2);
        assert.equal(d('aurora_app_auth_attempts_total', { outcome: 'wrong_secret' }), 1);
        assert.ok((after0.value('aurora_app_vault_expiry_seconds', { name: 'app-token' }) ?? 0) > 0);

        must(await sh('docker restart vault', env, MIN), 'docker restart vault');
        const unseals = init0.value('aurora_vault_init_unseals_total', node) ?? 0;
        await within('vault-init to count one more unseal', MIN, async () => {
          const m = await init().catch(() => undefined);
          return m?.value('aurora_vault_init_unseals_total', node) === unseals + 1;
        });
        const vaultText = await new VaultClient({
          addr: 'http://127.0.0.1:8200',
          token: token.trim(),
        }).metricsPrometheus();
        scrapes.push(vaultText);
        const vault = parseScrape(vaultText);
        assert.ok(vault.names().some((n) => n.startsWith('vault_')));
        assert.equal(await status(`curl -u admin:${admin} -X DELETE ${APP}/users/mia/credentials/db`), '204');
        const all = scrapes.join('\n');
        for (const secret of [canary, admin, 'super-secret-value', 'new-secret-value', token.trim()])
          assert.ok(!all.includes(secret), `${secret.slice(0, 6)}… in a metrics scrape`);
      },
    );

    // ---- operations on the compose stack ----
    step(
      'operations: make backup (encrypted) → change → make restore CONFIRM=1 brings back exactly that state; make root-token',
      6 * MIN,
      async () => {
        const dir = tempDir('e2e-backups');
        const opsEnv = { ...env, BACKUP_DIR: dir, BACKUP_PASSPHRASE: `e2e-passphrase-${Date.now()}` };
        const run = (line: string, timeoutMs = 3 * MIN) => sh(line, opsEnv, timeoutMs);
        const kept = `kept_canary_${Date.now()}`;
        assert.equal(
          await status(
            `curl -u admin:${admin} -X PUT ${APP}/users/bob/credentials/aws -H 'content-type: application/json' -d '{"data":{"key":"${kept}"}}'`,
          ),
          '201',
        );
        must(await run('make backup'), 'make backup');
        const archives = fs.readdirSync(dir).filter((f) => f.startsWith('aurora-backup-'));
        assert.equal(archives.length, 1, `one archive in ${dir}: ${archives.join(', ')}`);
        const archive = path.join(dir, archives[0]!);
        assert.equal(fs.statSync(archive).mode & 0o777, 0o600);
        assert.match(archive, /\.enc$/, 'BACKUP_PASSPHRASE encrypts the archive');

        assert.equal(await status(`curl -u admin:${admin} -X DELETE ${APP}/users/bob/credentials/aws`), '204');
        assert.equal(
          await status(
            `curl -u admin:${admin} -X PUT ${APP}/users/carol/credentials/gh -H 'content-type: application/json' -d '{"data":{"key":"after-backup"}}'`,
          ),
          '201',
        );
        const refused = await run(`make restore FILE=${archive}`);
        assert.notEqual(refused.status, 0, 'restore over a running stack without CONFIRM=1');
        assert.equal(
          await status(`curl -u admin:${admin} ${APP}/users/carol/credentials/gh`),
          '200',
          'the refused restore changed something',
        );
        const restored = must(await run(`make restore FILE=${archive} CONFIRM=1`, 5 * MIN), 'make restore CONFIRM=1');
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

        // docs/operations.md, "doctor says damaged": the compose form of the search, on a healthy stack, finds nothing.
        const torn = await run('docker exec vault find /vault/file -type f | scripts/doctor.sh --torn-files', MIN);
        assert.equal(torn.status, 0, `doctor --torn-files on compose: ${torn.stdout}${torn.stderr}`);

        const token = must(await run('make -s root-token', MIN), 'make root-token').stdout.trim();
        assert.equal(token.split('\n').length, 1, 'make root-token prints the token alone on stdout');
        assert.deepEqual(await lookupToken(VAULT, token), { status: 200, policies: ['root'] });
        await new VaultClient({ addr: VAULT, token }).write('auth/token/revoke-self', {});
        assert.equal(await status(`curl -u admin:${admin} -X DELETE ${APP}/users/bob/credentials/aws`), '204');
      },
    );

    // After the restore: its new superuser password went through vault-init to Vault, which rotated it.
    step(
      'no database password in clear: compose config, docker inspect, logs and a pg_dump; the bootstrap one is dead',
      4 * MIN,
      async () => {
        const pg = must(await sh('docker compose ps -q postgres', env, MIN), 'the postgres container').stdout.trim();
        const bootstrap = must(
          await sh(`docker exec ${pg} cat /run/postgres-password/superuser-password`, env, MIN),
          'the bootstrap password file',
        ).stdout.trim();
        assert.match(bootstrap, /^[A-Za-z0-9]{40}$/, 'a generated password');
        const operator = must(await sh('docker exec vault cat /vault/cli/.vault-token', env, MIN), 'operator token');
        const vault = new VaultClient({ addr: VAULT, token: operator.stdout.trim(), timeoutMs: 10_000 });
        const creds = await vault.database().credentials('aurora-maintenance');
        const secrets = [bootstrap, creds.password];
        const psqlAs = (username: string, password: string) => {
          const pgpass = transientPgPassFile({ username, password });
          try {
            return spawnSync(path.join(postgresBinDir(), 'psql'), ['-w', '-Atc', 'SELECT current_user'], {
              encoding: 'utf8',
              env: {
                ...process.env,
                PGHOST: '127.0.0.1',
                PGPORT: '5432',
                PGDATABASE: 'aurora',
                PGUSER: username,
                PGPASSFILE: pgpass.file,
                PGPASSWORD: '',
              },
            });
          } finally {
            pgpass.remove();
          }
        };
        try {
          const dead = psqlAs('aurora', bootstrap);
          assert.notEqual(dead.status, 0, 'the bootstrap password still logs in: Vault did not rotate it');
          assert.match(dead.stderr, /password authentication failed/);
          const leased = psqlAs(creds.username, creds.password);
          assert.equal(leased.status, 0, leased.stderr);

          const config = must(await sh('docker compose config', env, MIN), 'docker compose config').stdout;
          assert.doesNotMatch(config, /PGPASSWORD|POSTGRES_PASSWORD:/);
          assert.match(config, /PG_VAULT_ROLE: aurora-app/);
          const ids = lines(must(await sh('docker compose ps -aq', env, MIN), 'containers').stdout);
          assert.ok(ids.length >= 5, `the stack's containers: ${ids.join(' ')}`);
          const inspect = must(await sh(`docker inspect ${ids.join(' ')}`, env, MIN), 'docker inspect').stdout;
          const logs = must(await sh('docker compose logs --no-color', env, 2 * MIN), 'docker compose logs');
          const dump = must(await sh('docker compose exec -T postgres pg_dump -U aurora aurora', env, MIN), 'pg_dump');
          assert.match(dump.stdout, /credential_references/);
          assert.doesNotMatch(dump.stdout, /SCRAM-SHA-256\$|PASSWORD '/i, 'a password hash in the dump');
          for (const [where, text] of [
            ['docker compose config', config],
            ['docker inspect', inspect],
            ['container logs', logs.stdout + logs.stderr],
            ['pg_dump', dump.stdout],
          ] as const)
            for (const secret of secrets) assert.ok(!text.includes(secret), `a database password in ${where}`);
        } finally {
          await vault.revokeLease(creds.leaseId);
        }
      },
    );

    step(
      'a port held by another container: make prod-local names it and leaves the running stack alone',
      3 * MIN,
      async () => {
        const port = await freePort();
        const holderName = `aurora-e2e-port-holder-${process.pid}`;
        const before = lines(docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${PROJECT}`]).stdout);
        must(
          await sh(
            `docker run -d --rm --name ${holderName} -p 127.0.0.1:${port}:9 aurora-offline/debian:bookworm sleep 300`,
            env,
            MIN,
          ),
          'docker run (the port holder)',
        );
        try {
          const r = await sh(`VAULT_INIT_METRICS_PORT=${port} make prod-local`, env, 2 * MIN);
          assert.notEqual(r.status, 0);
          assert.match(
            r.stderr,
            new RegExp(`port ${port} \\(VAULT_INIT_METRICS_PORT\\) is published by container ${holderName}`),
          );
          const after = lines(docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${PROJECT}`]).stdout);
          assert.deepEqual(after.sort(), before.sort(), 'the running stack was changed');
        } finally {
          docker(['rm', '-f', holderName]);
        }
      },
    );

    step(
      '6. make down, then make prod-local → the same Vault, the same root token, the secret still there',
      12 * MIN,
      async () => {
        const down = must(await sh('make down', env, 3 * MIN, true), 'make down');
        timings['make down'] = down.ms;
        // Stop timeouts are 10 s per container: a down that waits them out means a process ignores SIGTERM.
        assert.ok(down.ms < 30_000, `make down took ${down.ms} ms: some container ignores SIGTERM`);
        assert.equal(
          lines(docker(['ps', '-a', '-q', '--filter', `label=com.docker.compose.project=${PROJECT}`]).stdout).length,
          0,
        );
        const up = must(await sh('make prod-local', env, 10 * MIN, true), 'make prod-local after make down');
        timings['prod-local after down'] = up.ms;
        const self = await lookupToken(VAULT, rootToken);
        assert.equal(self.status, 200, 'the root token of the first start no longer works');
        const logs = must(
          await sh('docker logs vault-init 2>&1 | grep "Root Token:"', env, MIN),
          'the root token grep',
        );
        for (const l of rootTokenLines(logs.stdout))
          assert.equal(tokenOf(l), rootToken, 'vault-init re-initialized Vault');
        const get = must(
          await sh('docker exec vault vault kv get -field=value aurora/users/test-secret', env, MIN),
          'kv get after down/up',
        );
        assert.equal(get.stdout.trim(), 'hello');
      },
    );

    step(
      '7. make prod-local-clean → containers, volumes, network gone; the next make prod-local is a fresh Vault',
      12 * MIN,
      async () => {
        const clean = must(await sh('make prod-local-clean', env, 3 * MIN, true), 'make prod-local-clean');
        timings['make prod-local-clean'] = clean.ms;
        const l = leftovers();
        assert.deepEqual(l, { containers: [], volumes: [], networks: [] }, 'make prod-local-clean left these behind');
        const names = lines(must(await sh('docker ps -a --format "{{.Names}}"', env, MIN), 'docker ps -a').stdout);
        for (const c of CONTAINERS) assert.ok(!names.includes(c), `container ${c} survived make prod-local-clean`);
        const vols = lines(must(await sh('docker volume ls -q', env, MIN), 'docker volume ls').stdout);
        assert.deepEqual(
          vols.filter((v) => v.startsWith(`${PROJECT}_`)),
          [],
        );

        const up = must(await sh('make prod-local', env, 10 * MIN, true), 'make prod-local after clean');
        timings['prod-local after clean'] = up.ms;
        const logs = must(
          await sh('docker logs vault-init 2>&1 | grep "Root Token:"', env, MIN),
          'the root token grep',
        );
        const fresh = rootTokenLines(logs.stdout);
        assert.equal(fresh.length, 1);
        const newToken = tokenOf(fresh[0]!);
        assert.notEqual(
          newToken,
          rootToken,
          'the same root token after prod-local-clean: Vault was not re-initialized',
        );
        assert.equal((await lookupToken(VAULT, rootToken)).status, 403, 'the old root token still works');
        assert.equal((await lookupToken(VAULT, newToken)).status, 200);
        const gone = await sh('docker exec vault vault kv get aurora/users/test-secret', env, MIN);
        assert.notEqual(gone.status, 0, 'the secret of the destroyed Vault is still there');
      },
    );
  });
