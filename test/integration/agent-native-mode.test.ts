// User story: `make native` runs the agent as a process too, with the `.native/` layout: vault-init writes
// the agent's AppRole files under <root>/approle/agent, the agent renders into <root>/secrets, and the app's
// SECRETS_CONFIG (the compose one, pointed at <root>/secrets) lets the bootstrap admin in.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient } from '@aurora/common';
import type { ChildProcess } from 'node:child_process';
import {
  nativeVaultAgentOptions,
  vaultAgentCommand,
  writeNativeSecretsConfig,
  AppProcess,
  PostgresServer,
  spawnServer,
  stopProcess,
  startBoth,
  tempDir,
  waitFor,
  VaultServer,
  vaultInitDirs,
  vaultInitEnv,
} from '@aurora/process';
import { runOnceOk } from '../support/vault-init-runs.js';

describe('native mode: the agent as a process with the .native layout', () => {
  let vault: VaultServer;
  let postgres: PostgresServer;
  let agent: ChildProcess | undefined;
  let app: AppProcess | undefined;
  const root = path.join(tempDir('native'), '.native');
  before(async () => {
    [vault, postgres] = await startBoth(VaultServer.start(), PostgresServer.start());
    fs.mkdirSync(path.join(root, 'approle'), { recursive: true });
    const env = await vaultInitEnv(vault, vaultInitDirs(), {
      VAULT_APPROLE_DIR: path.join(root, 'approle'),
      VAULT_OPERATOR_TOKEN_DIR: path.join(root, 'cli'),
    });
    await runOnceOk(env, []);
  });
  after(async () => {
    await Promise.allSettled([app?.stop(), agent && stopProcess(agent)]);
    await Promise.allSettled([vault?.stop(), postgres?.stop()]);
  });

  test('the agent, started from vaultAgentCommand as a daemon would be, renders into <root>/secrets (0400)', async () => {
    const cmd = vaultAgentCommand(nativeVaultAgentOptions(root, vault.addr, '1s'));
    agent = spawnServer(cmd.command, cmd.args, {
      env: { ...process.env, ...cmd.env },
      logFile: path.join(root, 'agent', 'agent.log'),
    });
    const token = fs.readFileSync(path.join(root, 'cli', '.vault-token'), 'utf8').trim();
    const expected = (await new VaultClient({ addr: vault.addr, token }).kvRead('secret', 'aurora/admin')).data[
      'client-secret'
    ];
    const file = path.join(root, 'secrets', 'admin-secret');
    await waitFor(
      'admin-secret rendered',
      async () => (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === expected ? true : undefined),
      30_000,
    );
    assert.equal(cmd.outputDir, path.join(root, 'secrets'));
    assert.equal(fs.statSync(file).mode & 0o777, 0o400);
    assert.equal(cmd.configPath, path.join(root, 'agent', 'agent.hcl'));
  });

  test('the app with the compose SECRETS_CONFIG pointed at <root>/secrets lets the admin in', async () => {
    const config = writeNativeSecretsConfig(root);
    const parsed = JSON.parse(fs.readFileSync(config, 'utf8')) as { secret: Record<string, { path: string }> };
    assert.equal(parsed.secret['admin-secret']?.path, path.join(root, 'secrets', 'admin-secret'));
    app = await AppProcess.start({
      VAULT_ADDR: vault.addr,
      VAULT_APPROLE_DIR: path.join(root, 'approle', 'app'),
      SECRETS_CONFIG: config,
      ...postgres.env,
    });
    const secret = fs.readFileSync(path.join(root, 'secrets', 'admin-secret'), 'utf8');
    const res = await fetch(`${app.url}/fhir/Client/admin`, {
      headers: { authorization: `Basic ${Buffer.from(`admin:${secret}`).toString('base64')}` },
    });
    assert.equal(res.status, 200);
    assert.ok(!app.log().includes(secret));
  });
});
