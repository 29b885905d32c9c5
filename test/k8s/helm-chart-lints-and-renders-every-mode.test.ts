/**
 * The chart as a user meets it before installing: `helm lint` is clean; every mode renders (agent and csi
 * delivery, one or three Vault pods, an external Vault, an external PostgreSQL, the app's database users from
 * Vault's database secrets engine or from the Secret's password); the API server accepts what
 * it renders (server-side dry run); the csi mode's SecretProviderClass is the Aidbox tutorial's; the values
 * schema refuses a bad value; and no template holds a Secret or a secret value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIN, run } from './cluster.js';

const CHART = process.env.K8S_CHART ?? 'deploy/helm/aurora-secrets';
const HELM = process.env.HELM ?? 'helm';
// Rendering without a cluster: the version the local node runs.
const KUBE_VERSION = ['--kube-version', process.env.K8S_VERSION ?? 'v1.37.2'];

async function template(sets: string[]): Promise<string> {
  const r = await run(HELM, [
    'template',
    'aurora-secrets',
    CHART,
    '-n',
    'render-check',
    ...KUBE_VERSION,
    ...sets.flatMap((s) => ['--set', s]),
  ]);
  assert.equal(r.status, 0, `helm template ${sets.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const kinds = (yaml: string) => [...yaml.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]!);

test(
  'helm lint is clean; every mode renders; the API server accepts it; the schema refuses bad values',
  { timeout: 4 * MIN },
  async (t) => {
    const pg = 'postgresql.auth.existingSecret=aurora-postgres';

    await t.test('helm lint', async () => {
      const r = await run(HELM, ['lint', CHART, '--strict', '--set', pg]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    });

    await t.test(
      'agent mode (default): Vault, vault-init, app with the agent sidecar, PostgreSQL, NetworkPolicies',
      async () => {
        const y = await template([pg]);
        for (const k of [
          'StatefulSet',
          'Deployment',
          'Service',
          'PodDisruptionBudget',
          'NetworkPolicy',
          'Role',
          'ClusterRoleBinding',
        ])
          assert.ok(kinds(y).includes(k), `no ${k}`);
        assert.ok(
          !kinds(y).includes('Secret'),
          'the chart renders a Secret: secrets are made at run time or handed in',
        );
        assert.ok(!kinds(y).includes('SecretProviderClass'));
        assert.match(y, /publishNotReadyAddresses: true/);
        // vault-init joins every pod; a retry_join in Vault's config would race it (docs/operations.md).
        assert.doesNotMatch(y.replace(/#.*$/gm, ''), /retry_join/, 'the Vault config carries retry_join');
        assert.match(y, /restartPolicy: Always/, 'the agent is a native sidecar');
        assert.match(y, /"helm\.sh\/resource-policy"|resourceNames: \["aurora-secrets-vault-init"\]/);
        // The server-side dry run validates every object against the real API (and the admission chain).
        const ns = await run(process.env.KUBECTL ?? 'kubectl', [
          'create',
          'namespace',
          'render-check',
          '--dry-run=server',
        ]);
        assert.equal(ns.status, 0, ns.stderr);
      },
    );

    await t.test('the API server accepts every rendered object (kubectl apply --dry-run=server)', async () => {
      await run(process.env.KUBECTL ?? 'kubectl', ['create', 'namespace', 'render-check']);
      try {
        for (const sets of [
          [pg],
          [pg, 'vault.replicas=1'],
          [pg, 'postgresql.vaultDatabaseEngine.enabled=false'],
          [
            'postgresql.enabled=false',
            'postgresql.external.existingSecret=ext-pg',
            'vault.external.address=https://vault.example:8200',
          ],
        ]) {
          const y = await template(sets);
          const r = await run(
            process.env.KUBECTL ?? 'kubectl',
            ['apply', '-n', 'render-check', '--dry-run=server', '-f', '-'],
            { input: y },
          );
          assert.equal(r.status, 0, `${sets.join(' ')}: ${r.stderr}`);
        }
      } finally {
        await run(process.env.KUBECTL ?? 'kubectl', ['delete', 'namespace', 'render-check', '--wait=false']);
      }
    });

    await t.test("csi mode: the Aidbox tutorial's SecretProviderClass and CSI volume, no agent", async () => {
      const y = await template([pg, 'secretsDelivery=csi']);
      assert.ok(kinds(y).includes('SecretProviderClass'));
      assert.match(y, /provider: vault/);
      assert.match(y, /roleName: "aurora-agent"/);
      assert.match(
        y,
        /objectName: "client-secret"\n\s+secretPath: "secret\/data\/aidbox\/client"\n\s+secretKey: "client-secret"/,
      );
      assert.match(y, /driver: secrets-store\.csi\.k8s\.io/);
      assert.match(y, /secretProviderClass: aurora-secrets-vault/);
      assert.doesNotMatch(y, /vault agent/, 'no agent sidecar with csi');
    });

    await t.test(
      "the app's database users: leased from Vault's database engine by default, the Secret's password when off",
      async () => {
        const leased = await template([pg]);
        // vault-init hands Vault the bootstrap password (a file from the Secret), Vault reaches PostgreSQL.
        assert.match(
          leased,
          /name: VAULT_DB_SUPERUSER_PASSWORD_FILE, value: \/run\/postgres-password\/superuser-password/,
        );
        assert.match(leased, /name: VAULT_DB_HOST, value: "aurora-secrets-postgresql"/);
        assert.match(leased, /items: \[\{key: password, path: superuser-password\}\]/);
        // The app holds no password: it leases its users.
        assert.match(leased, /name: PG_VAULT_ROLE, value: aurora-app/);
        assert.doesNotMatch(leased, /PGPASSWORD_FILE|name: PGUSER/, 'the app still reads a password');
        const vaultPolicy = leased
          .split(/^---$/m)
          .find((d) => /name: aurora-secrets-vault$/m.test(d) && /NetworkPolicy/.test(d));
        assert.match(
          vaultPolicy ?? '',
          /component: postgresql\n\s+ports: \[\{protocol: TCP, port: 5432\}\]/,
          'Vault may reach PostgreSQL',
        );

        const own = await template([pg, 'postgresql.vaultDatabaseEngine.enabled=false']);
        assert.match(own, /name: PGPASSWORD_FILE, value: \/etc\/aurora\/postgres\/password/);
        assert.doesNotMatch(own, /VAULT_DB_|PG_VAULT_ROLE/);
        // An external Vault is not configured by this chart: the engine is not assumed there either.
        const external = await template([pg, 'vault.external.address=https://vault.example:8200']);
        assert.doesNotMatch(external, /PG_VAULT_ROLE/);
        assert.match(external, /name: PGPASSWORD_FILE/);
      },
    );

    await t.test('an external Vault: no Vault objects, no vault-init', async () => {
      const y = await template([pg, 'vault.external.address=https://vault.example:8200']);
      assert.ok(!kinds(y).includes('StatefulSet') || !/name: aurora-secrets-vault\n/.test(y));
      assert.doesNotMatch(y, /name: aurora-secrets-vault-init/, 'no vault-init objects');
      assert.match(y, /value: "https:\/\/vault\.example:8200"/);
    });

    await t.test('the values schema refuses bad values; a missing PostgreSQL Secret is named', async () => {
      for (const bad of [
        'secretsDelivery=vault-csi',
        'vault.replicas=0',
        'app.agentAudience=',
        'postgresql.vaultDatabaseEngine.maxTtl=a day',
      ]) {
        const r = await run(HELM, ['template', 'x', CHART, ...KUBE_VERSION, '--set', pg, '--set', bad]);
        assert.notEqual(r.status, 0, `${bad} was accepted`);
      }
      const r = await run(HELM, ['template', 'x', CHART, ...KUBE_VERSION]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /postgresql\.auth\.existingSecret is required/);
    });
  },
);
