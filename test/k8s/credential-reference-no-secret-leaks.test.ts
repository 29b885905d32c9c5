/**
 * The Aurora flow on Kubernetes: a credential written through the app lands in Vault, PostgreSQL holds only its
 * `vault:` reference, and the app resolves it. No secret value made in this run reaches PostgreSQL, a pod's log,
 * Helm's release record, or any Kubernetes object other than the init-material Secret and the PostgreSQL
 * password Secret the user (here: make k8s) hands in. That password is only the bootstrap: Vault's database
 * secrets engine rotated it, and the app works as users Vault leased.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basicAuth } from '../support/raw-http.js';
import { gunzipSync } from 'node:zlib';
import { FULLNAME, MIN, adminSecret, k, kJson, kubectl, pods, randomSecret, rootToken, serviceUrl } from './cluster.js';

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

/** Helm's release records: Secrets `sh.helm.release.v1.<release>.v<n>`, data.release = base64(gzip(JSON)). */
function releaseText(secret: Obj): string {
  const outer = Buffer.from(secret.data!.release!, 'base64').toString('utf8');
  return gunzipSync(Buffer.from(outer, 'base64')).toString('utf8');
}

test(
  'Aurora flow: credential → vault: reference in PostgreSQL → resolved; no secret in PostgreSQL, logs, Helm or other objects',
  { timeout: 6 * MIN },
  async () => {
    const app = await serviceUrl('app', 8080);
    const admin = await adminSecret();
    const canary = randomSecret('ghp_k8s_canary');
    const auth = { authorization: basicAuth('admin', admin), 'content-type': 'application/json' };

    const put = await fetch(`${app}/users/alice/credentials/github`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ data: { token: canary } }),
    });
    const putBody = await put.text();
    assert.ok(put.ok, `PUT credential: ${put.status} ${putBody}`);
    assert.equal((JSON.parse(putBody) as { reference: string }).reference, 'vault:kv/data/aurora/users/alice/github');
    assert.ok(!putBody.includes(canary), 'the PUT answer holds the secret');

    const pg = (await pods('postgresql'))[0]!.metadata.name;
    const psql = (sql: string) => k(['exec', pg, '--', 'psql', '-U', 'aurora', '-d', 'aurora', '-Atc', sql]);
    assert.equal(
      (await psql("SELECT reference FROM credential_references WHERE user_id = 'alice'")).trim(),
      'vault:kv/data/aurora/users/alice/github',
    );
    // The app's users are leased from Vault (members of aurora_app, named v-… by Vault), and the password the user
    // handed in no longer logs in over TCP: Vault rotated it when vault-init configured the engine. The password
    // goes to psql on stdin, never into an argument.
    const leased = (
      await psql(
        "SELECT rolname FROM pg_roles WHERE rolname LIKE 'v-%' AND pg_has_role(rolname, 'aurora_app', 'member')",
      )
    )
      .trim()
      .split('\n')
      .filter(Boolean);
    assert.ok(leased.length >= 1, 'no PostgreSQL user leased from Vault for the app');
    const bootstrap = Buffer.from(
      await k(['get', 'secret', 'aurora-postgres', '-o', 'jsonpath={.data.password}']),
      'base64',
    ).toString();
    const login = await kubectl(
      [
        'exec',
        '-i',
        pg,
        '--',
        'sh',
        '-c',
        'read -r p; PGPASSWORD="$p" psql -w -h 127.0.0.1 -U aurora -d aurora -Atc "SELECT 1"',
      ],
      { input: `${bootstrap}\n` },
    );
    assert.notEqual(login.status, 0, 'the bootstrap password from the Secret still logs in: Vault did not rotate it');
    assert.match(login.stderr, /password authentication failed/);

    const dump = await k(['exec', pg, '--', 'pg_dump', '-U', 'aurora', 'aurora']);
    assert.ok(!dump.includes(canary), 'a secret value reached PostgreSQL');

    const resolved = await fetch(`${app}/users/alice/credentials/github/resolve`, { method: 'POST', headers: auth });
    assert.equal(resolved.status, 200);
    assert.deepEqual(((await resolved.json()) as { data: unknown }).data, { token: canary });

    // Every secret value this run knows: the canary, the admin Client's secret, the root token, the unseal keys.
    const init = JSON.parse(
      Buffer.from(
        await k(['get', 'secret', `${FULLNAME}-vault-init`, '-o', 'jsonpath={.data.init\\.json}']),
        'base64',
      ).toString(),
    ) as { keys_base64: string[]; root_token: string };
    const secrets = [canary, admin, await rootToken(), ...init.keys_base64];
    const leaks = (where: string, text: string) => {
      for (const s of secrets) assert.ok(!text.includes(s), `a secret value reached ${where}`);
    };

    // Every container's log, of every pod in the namespace, and of the previous instance of every container that
    // restarted. A log that cannot be fetched fails the story: an unread log is not a clean one. A container that
    // never started (still waiting, no restarts) has written nothing yet, so there is no log to read.
    interface Status {
      name: string;
      restartCount: number;
      state?: { waiting?: unknown; running?: unknown; terminated?: unknown };
    }
    const all = await kJson<{
      items: {
        metadata: { name: string };
        status: { containerStatuses?: Status[]; initContainerStatuses?: Status[] };
      }[];
    }>(['get', 'pods']);
    let scanned = 0;
    for (const p of all.items) {
      for (const c of [...(p.status.containerStatuses ?? []), ...(p.status.initContainerStatuses ?? [])]) {
        const where = `${p.metadata.name}/${c.name}`;
        if (c.state?.running || c.state?.terminated) {
          leaks(`the log of ${where}`, await k(['logs', p.metadata.name, '-c', c.name]));
          scanned++;
        }
        if (c.restartCount > 0) {
          leaks(`the previous log of ${where}`, await k(['logs', '--previous', p.metadata.name, '-c', c.name]));
          scanned++;
        }
      }
    }
    assert.ok(scanned > 0, 'no container log found to check');

    // Vault's audit log is each Vault pod's output, which the kubelet keeps and rotates (no file in the pod to fill
    // its disk): the write above is there, its value HMAC'd by Vault, and the scan above read it.
    const vaultLog = await k(['logs', `${FULLNAME}-vault-0`, '-c', 'vault']);
    const audited = vaultLog
      .split('\n')
      .filter((l) => l.includes('"type":"response"') && l.includes('"path":"aurora/data/users/alice/github"'));
    assert.ok(audited.length > 0, "the credential write is not in Vault's audit log (the vault-0 pod's output)");
    assert.ok(
      audited.some((l) => l.includes('"token":"hmac-sha256:')),
      `the audited write's value is not HMAC'd: ${audited[0]!.slice(0, 300)}`,
    );

    // Helm's release records and every other object in the namespace.
    const objects = await kJson<{ items: Obj[] }>([
      'get',
      'secrets,configmaps,pods,deployments,statefulsets,services,serviceaccounts,roles,rolebindings,networkpolicies,poddisruptionbudgets',
    ]);
    const allowed = new Set([`${FULLNAME}-vault-init`, 'aurora-postgres']);
    let releases = 0;
    for (const o of objects.items) {
      if (o.kind === 'Secret' && allowed.has(o.metadata.name)) continue;
      if (o.kind === 'Secret' && o.metadata.name.startsWith('sh.helm.release.v1.')) {
        releases++;
        leaks(`Helm's release record ${o.metadata.name}`, releaseText(o));
      }
      const text = JSON.stringify(o);
      leaks(`${o.kind} ${o.metadata.name}`, text);
      // Values can hide base64-encoded in a Secret's data.
      for (const v of Object.values(o.data ?? {}))
        leaks(`${o.kind} ${o.metadata.name}`, Buffer.from(v, 'base64').toString());
    }
    assert.ok(releases >= 1, 'no Helm release record found to check');

    const del = await fetch(`${app}/users/alice/credentials/github`, { method: 'DELETE', headers: auth });
    assert.equal(del.status, 204);
  },
);
