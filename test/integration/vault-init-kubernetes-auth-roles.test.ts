// User story: on Kubernetes (VAULT_CLIENT_AUTH=kubernetes, as the Helm chart sets it) vault-init enables Vault's
// Kubernetes auth method instead of AppRole: the method, its config, and one role each for the app and the agent,
// bound to the app pods' ServiceAccount and told apart by their tokens' audiences. No AppRole and no credential
// files appear; a second run changes nothing; a role edited by hand is put back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { VaultClient } from '@aurora/common';
import { tempDir, type VaultInitDirs, type VaultServer } from '@aurora/process';
import { configureChanges, runOnceOk } from '../support/vault-init-runs.js';
import { initRootClient, vaultInitScene } from '../support/vault-init-scene.js';

interface Role {
  bound_service_account_names: string[];
  bound_service_account_namespaces: string[];
  audience: string;
  token_policies: string[];
}

describe('vault-init with VAULT_CLIENT_AUTH=kubernetes', () => {
  let vault: VaultServer;
  let dirs: VaultInitDirs;
  let env: Record<string, string>;
  let root: VaultClient;
  // Every vault-init run's output (runOnceOk collects them).
  const outputs: string[] = [];

  before(async () => {
    // Vault runs outside any cluster here: it gets the API's CA from vault-init (any valid PEM will do for
    // configuration; no login is attempted).
    const caDir = tempDir('k8s-ca');
    const caFile = path.join(caDir, 'k8s-ca.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        path.join(caDir, 'ca.key'),
        '-out',
        caFile,
        '-days',
        '1',
        '-subj',
        '/CN=test-k8s-ca',
      ],
      { stdio: 'ignore' },
    );
    ({ vault, dirs, env } = await vaultInitScene({
      VAULT_SECRET_SHARES: '1',
      VAULT_SECRET_THRESHOLD: '1',
      VAULT_CLIENT_AUTH: 'kubernetes',
      VAULT_K8S_NAMESPACE: 'aurora',
      VAULT_K8S_SERVICE_ACCOUNT: 'aurora-secrets-app',
      VAULT_K8S_HOST: 'https://kubernetes.default.svc',
      VAULT_K8S_CA_CERT_FILE: caFile,
    }));
    await runOnceOk(env, outputs);
    root = initRootClient(vault, dirs, 5000);
  });

  after(async () => {
    await vault?.stop();
  });

  test('the Kubernetes auth method, its config and two roles with their own audiences and policies', async () => {
    const methods = await root.authMethods();
    assert.equal(methods['kubernetes/']?.type, 'kubernetes');
    assert.equal(methods['approle/'], undefined, 'AppRole is not enabled on Kubernetes');
    const config = (await root.read<{ data: { kubernetes_host: string } }>('auth/kubernetes/config')).data;
    assert.equal(config.kubernetes_host, 'https://kubernetes.default.svc');
    const app = (await root.read<{ data: Role }>('auth/kubernetes/role/aurora-app')).data;
    const agent = (await root.read<{ data: Role }>('auth/kubernetes/role/aurora-agent')).data;
    for (const r of [app, agent]) {
      assert.deepEqual(r.bound_service_account_names, ['aurora-secrets-app']);
      assert.deepEqual(r.bound_service_account_namespaces, ['aurora']);
    }
    assert.equal(app.audience, 'aurora-app');
    assert.deepEqual(app.token_policies, ['aurora-app']);
    assert.equal(agent.audience, 'aurora-agent');
    assert.deepEqual(agent.token_policies, ['aurora-agent']);
    for (const f of ['app/role_id', 'app/secret_id', 'agent/role_id', 'agent/secret_id'])
      assert.ok(!fs.existsSync(path.join(dirs.approleDir, f)), `${f} was written`);
  });

  test('a second run changes nothing; a role edited by hand is put back', async () => {
    const again = await runOnceOk(env, outputs);
    assert.deepEqual(configureChanges(again.output), []);
    await root.write('auth/kubernetes/role/aurora-agent', {
      bound_service_account_names: ['*'],
      bound_service_account_namespaces: ['*'],
      token_policies: ['aurora-app'],
    });
    const repair = await runOnceOk(env, outputs);
    assert.deepEqual(configureChanges(repair.output), ['kubernetes-role:aurora-agent=updated']);
    const agent = (await root.read<{ data: Role }>('auth/kubernetes/role/aurora-agent')).data;
    assert.deepEqual(agent.bound_service_account_names, ['aurora-secrets-app']);
    assert.deepEqual(agent.token_policies, ['aurora-agent']);
    assert.equal(agent.audience, 'aurora-agent');
  });
});
