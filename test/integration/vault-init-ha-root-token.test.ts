// User story (HA profile, process harness): I run three Vault nodes on integrated Raft storage with
// VAULT_REVOKE_ROOT_TOKEN=true. vault-init forms and configures the cluster, then revokes the root token of
// init.json: no node accepts it, standbys included (they forward to the active node). Everything vault-init set
// up keeps working (the CLI's operator token, the app's AppRole login, through any node), and a restart of
// vault-init (--once rerun, watch mode) configures again with a short-lived token from the unseal keys. When a
// job needs root, `make root-token` pointed at any node, a standby or the active one, prints exactly one working
// root token that I can revoke afterwards; after kill -9 of the active node it still works through a survivor
// once a new leader is elected, and so does vault-init's own `node dist/print-root-token.js` with the compose HA
// settings (VAULT_HA_ADDRS set, VAULT_ADDR an alias that may name a node that is gone).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  lookupToken,
  generateRootStarted,
  RaftCluster,
  type RaftNode,
  repoRoot,
  waitFor,
  TSX_NODE_ARGS,
  vaultInitDirs,
  vaultInitEnv,
  VaultInitProcess,
  type VaultInitDirs,
  serviceNode,
} from '@aurora/process';
import { leakedLines, secretsOnDisk } from '../support/leaks.js';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { VaultClient } from '@aurora/common';
import { generateRootRunSteps, runOnceOk, vaultInitSteps, waitVaultInitHealth } from '../support/vault-init-runs.js';

interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `make root-token` as a user runs it on any stack: ROOT_TOKEN_INIT_FILE and VAULT_ADDR. */
function rootTokenScript(initFile: string, addr: string): ScriptRun {
  const res = spawnSync(process.execPath, [...TSX_NODE_ARGS, path.join(repoRoot(), 'scripts', 'root-token.ts')], {
    cwd: repoRoot(),
    encoding: 'utf8',
    timeout: 90_000,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      ROOT_TOKEN_INIT_FILE: initFile,
      VAULT_ADDR: addr,
    },
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** vault-init's container command (`docker exec vault-init node dist/print-root-token.js`) with the given env. */
function containerRootToken(env: Record<string, string>): ScriptRun {
  const res = spawnSync(
    serviceNode(),
    [path.join(repoRoot(), 'services', 'vault-init', 'dist', 'print-root-token.js')],
    {
      encoding: 'utf8',
      timeout: 90_000,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    },
  );
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('VAULT_REVOKE_ROOT_TOKEN and make root-token on a 3-node Raft cluster', () => {
  let cluster: RaftCluster;
  let dirs: VaultInitDirs;
  let env: Record<string, string>;
  let initFile: string;
  let init: { keys_base64: string[]; root_token: string };
  let watcher: VaultInitProcess | undefined;
  /** Everything vault-init printed, to scan at the end. */
  const outputs: string[] = [];
  /** Every token root-token printed: they may appear on its stdout only. */
  const printed: string[] = [];

  before(async () => {
    cluster = await RaftCluster.start(3);
    dirs = vaultInitDirs();
    initFile = path.join(dirs.initDir, 'init.json');
    env = await vaultInitEnv(cluster.nodes[0]!, dirs, {
      VAULT_HA_ADDRS: cluster.nodes.map((n) => n.addr).join(','),
      VAULT_REVOKE_ROOT_TOKEN: 'true',
      VAULT_SECRET_SHARES: '3',
      VAULT_SECRET_THRESHOLD: '2',
      VAULT_WAIT_TIMEOUT_MS: '60000',
    });
  });
  after(async () => {
    await watcher?.stop();
    await cluster?.stop();
  });

  const up = () => cluster.nodes.filter((n) => n.running);

  /** The original root token is refused by every running node, and what vault-init configured works through each. */
  async function assertRevokedAndConfigured(): Promise<void> {
    const operator = fs.readFileSync(path.join(dirs.cliDir, '.vault-token'), 'utf8').trim();
    const app = path.join(dirs.approleDir, 'app');
    const roleId = fs.readFileSync(path.join(app, 'role_id'), 'utf8');
    const secretId = fs.readFileSync(path.join(app, 'secret_id'), 'utf8');
    for (const node of up()) {
      const h = await node.health();
      assert.equal(h.sealed, false, `${node.id} unsealed`);
      assert.equal(
        (await lookupToken(node.addr, init.root_token)).status,
        403,
        `${node.id} (${h.standby ? 'standby' : 'active'}) refuses init.json's root token`,
      );
      assert.deepEqual(
        (await lookupToken(node.addr, operator)).policies,
        ['aurora-operator', 'default'],
        `${node.id}: the CLI's operator token works`,
      );
      const login = await new VaultClient({ addr: node.addr }).approleLogin(roleId, secretId);
      assert.deepEqual(login.policies, ['aurora-app', 'default'], `${node.id}: the app's AppRole login works`);
      assert.equal(await generateRootStarted(node.addr), false, 'no generate-root attempt left behind');
    }
  }

  /** One token on stdout, nothing secret on stderr; the token is root on every node and can do root-only sys/ work. */
  async function assertPrintedRootToken(run: ScriptRun, via: RaftNode): Promise<string> {
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `stdout is the token and nothing else: ${lines.length} line(s)`);
    const token = lines[0]!;
    assert.match(token, /^hvs\.[A-Za-z0-9_-]{20,}$/);
    printed.push(token);
    for (const s of [...printed, ...init.keys_base64, init.root_token])
      assert.ok(!run.stderr.includes(s), 'stderr holds no key or token');
    assert.deepEqual(leakedLines(run.stderr, []), []);
    assert.match(run.stderr, /revoke/);
    for (const node of up())
      assert.deepEqual(
        (await lookupToken(node.addr, token)).policies,
        ['root'],
        `${node.id}: lookup-self shows policy root`,
      );
    // Root-only work through the node the token was made on: the Raft configuration, and a policy write.
    const raft = await via.api<{ data?: { config: { servers: unknown[] } } }>(
      'GET',
      'sys/storage/raft/configuration',
      undefined,
      token,
    );
    assert.equal(raft.status, 200);
    assert.equal(raft.json.data?.config.servers.length, 3);
    const policy = await via.api(
      'PUT',
      'sys/policies/acl/ha-root-token-test',
      { policy: 'path "x" { capabilities = ["read"] }' },
      token,
    );
    assert.equal(policy.status, 204);
    assert.equal(await generateRootStarted(via.addr), false, 'no generate-root attempt left behind');
    return token;
  }

  async function revokeThrough(node: RaftNode, token: string): Promise<void> {
    assert.equal((await node.api('POST', 'auth/token/revoke-self', {}, token)).status, 204);
    for (const n of up())
      assert.equal((await lookupToken(n.addr, token)).status, 403, `${n.id} refuses the revoked token`);
  }

  test('first run (--once): forms the cluster, configures, revokes the root token of init.json; no node accepts it', async () => {
    const run = await runOnceOk(env, outputs, {
      timeoutMs: 180_000,
      steps: [
        'wait',
        'initialize',
        'form-cluster',
        'unseal',
        'verify-root-token',
        'configure',
        'revoke-root-token',
        'banner',
      ],
    });
    const revoke = run.steps.find((s) => s.step === 'revoke-root-token');
    assert.deepEqual([revoke?.which, revoke?.result], ['init-file', 'revoked']);
    assert.match(run.output, /^Root Token: revoked after setup \(VAULT_REVOKE_ROOT_TOKEN=true\)\. .*make root-token$/m);
    init = JSON.parse(fs.readFileSync(initFile, 'utf8')) as typeof init;
    assert.ok(!run.output.includes(init.root_token));
    const healths = await Promise.all(cluster.nodes.map((n) => n.health()));
    assert.equal(healths.filter((h) => h.standby).length, 2, 'two standbys');
    await assertRevokedAndConfigured();
  });

  test('a rerun (--once) on the unsealed cluster: generate-root through the active node, nothing changes, the short-lived token is revoked', async () => {
    const { steps: s } = await runOnceOk(env, outputs, { timeoutMs: 120_000, steps: generateRootRunSteps(true) });
    assert.equal(s.find((x) => x.step === 'verify-root-token')?.valid, false);
    assert.deepEqual(s.find((x) => x.step === 'configure')?.changed, []);
    const revoke = s.find((x) => x.step === 'revoke-root-token');
    assert.deepEqual([revoke?.which, revoke?.result], ['generated', 'revoked']);
    await assertRevokedAndConfigured();
  });

  test('a restart in watch mode: configured again without the root token, health 200, and it stays running', async () => {
    watcher = VaultInitProcess.start(env);
    await watcher.waitForOutput(/watching the seal status/, 120_000);
    const s = vaultInitSteps(watcher.output());
    assert.ok(
      s.some((x) => x.step === 'generate-root'),
      'root access from the unseal keys',
    );
    const revoke = s.find((x) => x.step === 'revoke-root-token');
    assert.deepEqual([revoke?.which, revoke?.result], ['generated', 'revoked']);
    // Healthy once its first check has read autopilot (every node a voter already): right after it watches.
    await waitVaultInitHealth(env.VAULT_INIT_HEALTH_PORT!, 200, 30_000);
    await assertRevokedAndConfigured();
  });

  test('scripts/root-token.ts with VAULT_ADDR at a standby prints one working root token; it is the only root token Vault knows; it can be revoked', async () => {
    const standby = (
      await Promise.all(cluster.nodes.map(async (n) => ((await n.health()).standby ? n : undefined)))
    ).find(Boolean)!;
    const token = await assertPrintedRootToken(rootTokenScript(initFile, standby.addr), standby);
    // Every root token vault-init generated on its runs was revoked: the one just printed is the only one.
    const accessors = (
      await standby.api<{ data: { keys: string[] } }>('LIST', 'auth/token/accessors', undefined, token)
    ).json.data.keys;
    let roots = 0;
    for (const accessor of accessors) {
      const info = await standby.api<{ data: { policies?: string[] } }>(
        'POST',
        'auth/token/lookup-accessor',
        { accessor },
        token,
      );
      if (info.json.data.policies?.includes('root')) roots += 1;
    }
    assert.equal(roots, 1, `root tokens known to Vault: ${roots}`);
    await revokeThrough(standby, token);
  });

  test('scripts/root-token.ts with VAULT_ADDR at the active node works the same', async () => {
    const active = await cluster.waitActive();
    const token = await assertPrintedRootToken(rootTokenScript(initFile, active.addr), active);
    // Autopilot makes the joined nodes voters after a while: the next test needs a quorum without the leader.
    await waitFor(
      'three voters',
      async () => {
        const r = await active.api<{ data: { config: { servers: Array<{ voter: boolean }> } } }>(
          'GET',
          'sys/storage/raft/configuration',
          undefined,
          token,
        );
        return r.json.data.config.servers.length === 3 && r.json.data.config.servers.every((p) => p.voter)
          ? true
          : undefined;
      },
      60_000,
      250,
    );
    await revokeThrough(active, token);
  });

  test('kill -9 of the active node: after the election, root-token works through the surviving standby and the new active node', async (t) => {
    const killed = await cluster.waitActive();
    await killed.kill();
    const t0 = Date.now();
    const active = await cluster.waitActive(up(), 60_000);
    t.diagnostic(`${active.id} active ${Date.now() - t0} ms after kill -9 of ${killed.id}`);
    const standby = up().find((n) => n !== active)!;
    // Right away: by the time the new leader reports itself active, the surviving standby forwards to it.
    await revokeThrough(standby, await assertPrintedRootToken(rootTokenScript(initFile, standby.addr), standby));
    await revokeThrough(active, await assertPrintedRootToken(rootTokenScript(initFile, active.addr), active));

    // vault-init's container command with the compose HA settings: VAULT_ADDR the alias (here: the node that is
    // gone), VAULT_HA_ADDRS every node. It must find a node that works by itself.
    const run = containerRootToken({
      VAULT_ADDR: killed.addr,
      VAULT_HA_ADDRS: env.VAULT_HA_ADDRS!,
      VAULT_INIT_DIR: dirs.initDir,
    });
    await revokeThrough(active, await assertPrintedRootToken(run, active));
  });

  test('the killed node comes back sealed, vault-init (watch mode) unseals it; it refuses the old root token too; vault-init never failed', async (t) => {
    const killed = cluster.nodes.find((n) => !n.running)!;
    await killed.start();
    await waitFor(
      `${killed.id} unsealed by vault-init and a standby`,
      async () => {
        const h = await killed.health().catch(() => undefined);
        return h && !h.sealed && h.standby ? true : undefined;
      },
      60_000,
      100,
    );
    // Right after its unseal a standby answers 500 for a moment, until it knows the active node to forward to.
    const operator = fs.readFileSync(path.join(dirs.cliDir, '.vault-token'), 'utf8').trim();
    const t0 = Date.now();
    let last = 0;
    await waitFor(
      `${killed.id} to forward requests`,
      async () => {
        last = (await lookupToken(killed.addr, operator).catch(() => ({ status: 0 }))).status;
        return last === 200 ? true : undefined;
      },
      30_000,
      100,
    );
    t.diagnostic(`${killed.id} forwards ${Date.now() - t0} ms after its unseal`);
    await waitVaultInitHealth(env.VAULT_INIT_HEALTH_PORT!, 200, 30_000);
    await assertRevokedAndConfigured();
    const out = watcher!.output();
    // The killed node was reported unreachable while it was down; configuration itself never failed.
    assert.doesNotMatch(out, /"node":"configure"/, 'no configure failure logged by vault-init');
    assert.equal(watcher!.child.exitCode, null, 'vault-init still running');
    const exit = await watcher!.stop();
    outputs.push(watcher!.output());
    watcher = undefined;
    assert.equal(exit.code, 0);
  });

  test('the whole cluster killed -9 and restarted (all sealed): vault-init --once unseals, configures with generate-root, revokes', async () => {
    for (const n of cluster.nodes) await n.kill();
    await Promise.all(cluster.nodes.map((n) => n.start()));
    const { steps: s } = await runOnceOk(env, outputs, { timeoutMs: 120_000, steps: generateRootRunSteps(true) });
    const revoke = s.find((x) => x.step === 'revoke-root-token');
    assert.deepEqual([revoke?.which, revoke?.result], ['generated', 'revoked']);
    await waitFor(
      'every node unsealed and serving',
      async () => {
        const operator = fs.readFileSync(path.join(dirs.cliDir, '.vault-token'), 'utf8').trim();
        const codes = await Promise.all(
          cluster.nodes.map((n) =>
            lookupToken(n.addr, operator).then(
              (r) => r.status,
              () => 0,
            ),
          ),
        );
        return codes.every((c) => c === 200) ? true : undefined;
      },
      30_000,
      100,
    );
    await assertRevokedAndConfigured();
  });

  test('no output of vault-init holds a key or a token', () => {
    const secrets = [...secretsOnDisk(dirs), ...printed];
    for (const out of outputs) assert.deepEqual(leakedLines(out, secrets), []);
  });
});
