/**
 * The Aidbox tutorial's flow on Kubernetes: `vault kv put secret/aidbox/client client-secret=…` → the Vault
 * Agent sidecar renders it into every app pod's /run/vault-secrets → `PUT /fhir/Client/basic` with the
 * `_secret` extension → Basic auth with the secret is 200, a wrong one 401 → rotate in Vault → the new secret is
 * accepted within 45 s, and no pod restarted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@aurora/process';
import { basicAuth } from '../support/raw-http.js';
import { MIN, adminSecret, k, pods, randomSecret, serviceUrl, vault } from './cluster.js';

const CLIENT = {
  resourceType: 'Client',
  id: 'basic',
  grant_types: ['basic'],
  _secret: {
    extension: [
      { url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'masked' },
      { url: 'http://health-samurai.io/fhir/secret-reference', valueString: 'client-secret' },
    ],
  },
};

async function putSecret(value: string): Promise<void> {
  const r = await vault(['kv', 'put', 'secret/aidbox/client', 'client-secret=-'], value);
  assert.equal(r.status, 0, `vault kv put failed: ${r.stderr}`);
}

/** The file as every app pod sees it (read in the app container, where the app reads it). */
async function everyPodHas(value: string): Promise<boolean> {
  const app = await pods('app');
  for (const p of app) {
    const r = await k(['exec', p.metadata.name, '-c', 'app', '--', 'cat', '/run/vault-secrets/client-secret']).catch(
      () => '',
    );
    if (r !== value) return false;
  }
  return app.length > 0;
}

async function restarts(): Promise<string> {
  return (await pods('app'))
    .map(
      (p) =>
        `${p.metadata.uid}:${[...(p.status.containerStatuses ?? []), ...(p.status.initContainerStatuses ?? [])].map((c) => c.restartCount).join(',')}`,
    )
    .sort()
    .join(' ');
}

test(
  'Aidbox flow: kv put → file in the app pods → Client with _secret → 200/401 → rotation within 45 s, no restart',
  { timeout: 6 * MIN },
  async (t) => {
    const app = await serviceUrl('app', 8080);
    const admin = await adminSecret();
    const first = randomSecret('first');
    const before = await restarts();

    await t.test('the secret written to Vault appears as a file in every app pod', async () => {
      await putSecret(first);
      // The agent started before this secret existed: its first read comes with its retry backoff (<= 1 min).
      await waitFor(
        '/run/vault-secrets/client-secret in every app pod',
        async () => (await everyPodHas(first)) || undefined,
        3 * MIN,
        500,
      );
    });

    await t.test('PUT /fhir/Client/basic with the _secret extension; Basic auth 200, a wrong secret 401', async () => {
      const put = await fetch(`${app}/fhir/Client/basic`, {
        method: 'PUT',
        headers: { authorization: basicAuth('admin', admin), 'content-type': 'application/json' },
        body: JSON.stringify(CLIENT),
      });
      const body = await put.text();
      assert.ok(put.status === 200 || put.status === 201, `PUT Client: ${put.status} ${body}`);
      assert.ok(!body.includes(first), 'the PUT answer holds the secret');
      const ok = await fetch(`${app}/fhir/Patient`, { headers: { authorization: basicAuth('basic', first) } });
      assert.equal(ok.status, 200);
      const wrong = await fetch(`${app}/fhir/Patient`, {
        headers: { authorization: basicAuth('basic', 'wrong-secret') },
      });
      assert.equal(wrong.status, 401);
    });

    await t.test('rotation in Vault: the new secret is accepted within 45 s, no pod restarted', async () => {
      const second = randomSecret('second');
      const t0 = Date.now();
      await putSecret(second);
      // Wait on the files, not with logins: each early login would be a failure for the brute-force limiter.
      await waitFor(
        'the rotated file in every app pod',
        async () => (await everyPodHas(second)) || undefined,
        45_000,
        500,
      );
      const ok = await fetch(`${app}/fhir/Patient`, { headers: { authorization: basicAuth('basic', second) } });
      assert.equal(ok.status, 200);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed <= 45_000, `the rotation took ${elapsed} ms`);
      const old = await fetch(`${app}/fhir/Patient`, { headers: { authorization: basicAuth('basic', first) } });
      assert.equal(old.status, 401);
      assert.equal(await restarts(), before, 'an app pod or container restarted');
    });
  },
);
