/**
 * The app keeps answering through its Service while its pods come and go: an app pod deleted under a small
 * steady load, then a `helm upgrade` that rolls every app pod, both with zero failed requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@aurora/process';
import { basicAuth } from '../support/raw-http.js';
import { FULLNAME, MIN, adminSecret, helm, k, pods, request, rolledOut, serviceUrl, steadyLoad } from './cluster.js';

test(
  'app pod deleted, then helm upgrade of the app: zero failed requests through the Service',
  { timeout: 6 * MIN },
  async (t) => {
    const app = await serviceUrl('app', 8080);
    const headers = { authorization: basicAuth('admin', await adminSecret()) };
    const send = () => request(`${app}/fhir/Patient`, { headers });
    const good = (r: { status: number }) => r.status === 200;

    await t.test('an app pod deleted: every request still succeeds', async (st) => {
      const before = (await pods('app')).map((p) => p.metadata.name);
      assert.ok(before.length >= 2, 'this story needs two app pods');
      const load = steadyLoad(st, send, good);
      await waitFor('10 requests through the Service before the deletion', () => load.ok >= 10 || undefined, MIN);
      await k(['delete', 'pod', before[0]!, '--wait=false']);
      await waitFor(
        'a replacement app pod Ready',
        async () => {
          const now = await pods('app');
          return (
            (now
              .filter((p) => !before.includes(p.metadata.name))
              .some((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) &&
              !now.some((p) => p.metadata.name === before[0])) ||
            undefined
          );
        },
        3 * MIN,
        500,
      );
      const result = await load.stop();
      assert.ok(result.ok > 20, `only ${result.ok} requests made`);
      assert.deepEqual(result.failed, [], 'requests failed while an app pod was replaced');
    });

    await t.test('helm upgrade rolling every app pod: every request still succeeds', async (st) => {
      const before = (await pods('app')).map((p) => p.metadata.uid);
      const load = steadyLoad(st, send, good);
      await waitFor('10 requests through the Service before the upgrade', () => load.ok >= 10 || undefined, MIN);
      const up = await helm([
        'upgrade',
        FULLNAME,
        process.env.K8S_CHART ?? 'deploy/helm/aurora-secrets',
        '--reuse-values',
        '--set',
        'app.drainSeconds=6',
      ]);
      assert.equal(up.status, 0, `helm upgrade: ${up.stderr}`);
      await rolledOut('deployment', `${FULLNAME}-app`);
      const result = await load.stop();
      const after = (await pods('app')).map((p) => p.metadata.uid);
      assert.ok(!after.some((uid) => before.includes(uid)), 'the upgrade did not replace the app pods');
      assert.ok(result.ok > 20, `only ${result.ok} requests made`);
      assert.deepEqual(result.failed, [], 'requests failed during helm upgrade');
    });
  },
);
