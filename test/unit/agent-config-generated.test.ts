// User story: what the agent renders is listed once, in vault/agent/secrets.json (shaped like a
// SecretProviderClass's objects); the committed vault/agent/agent.hcl is exactly what the generator makes of it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  AGENT_HCL_FILE,
  COMPOSE_AGENT_OPTIONS,
  composeAgentConfig,
  parseObjects,
  readObjects,
  renderAgentConfig,
} from '@aurora/process';

describe('vault/agent/agent.hcl', () => {
  test('equals the generator output for vault/agent/secrets.json (run `npm run gen:agent` after editing the list)', () => {
    assert.equal(fs.readFileSync(AGENT_HCL_FILE, 'utf8'), composeAgentConfig());
  });

  test('lists the documented objects', () => {
    const objects = readObjects();
    assert.deepEqual(
      objects.find((o) => o.objectName === 'client-secret'),
      { objectName: 'client-secret', secretPath: 'secret/data/aidbox/client', secretKey: 'client-secret' },
    );
    assert.deepEqual(
      objects.find((o) => o.objectName === 'admin-secret'),
      { objectName: 'admin-secret', secretPath: 'secret/data/aurora/admin', secretKey: 'client-secret' },
    );
  });

  test('AppRole auto-auth with the files vault-init writes, the secret_id kept, one 0400 template per object', () => {
    const hcl = composeAgentConfig();
    assert.match(hcl, /role_id_file_path\s+= "\/vault\/approle\/agent\/role_id"/);
    assert.match(hcl, /secret_id_file_path\s+= "\/vault\/approle\/agent\/secret_id"/);
    assert.match(hcl, /remove_secret_id_file_after_reading = false/);
    assert.match(hcl, /static_secret_render_interval = "30s"/);
    assert.match(hcl, /exit_on_retry_failure = false/);
    assert.match(hcl, /destination = "\/run\/vault-secrets\/client-secret"/);
    assert.match(
      hcl,
      /contents\s+= "\{\{ with secret \\"secret\/data\/aidbox\/client\\" \}\}\{\{ with index \.Data\.data \\"client-secret\\" \}\}/,
    );
    assert.equal(hcl.match(/perms\s+= "0400"/g)?.length, readObjects().length);
  });

  test('paths, address and interval are parameters (native mode, tests)', () => {
    const hcl = renderAgentConfig(readObjects(), {
      ...COMPOSE_AGENT_OPTIONS,
      outputDir: '/tmp/x',
      renderInterval: '1s',
      vaultAddress: 'http://127.0.0.1:1234',
    });
    assert.match(hcl, /address = "http:\/\/127\.0\.0\.1:1234"/);
    assert.match(hcl, /destination = "\/tmp\/x\/admin-secret"/);
    assert.match(hcl, /static_secret_render_interval = "1s"/);
    assert.throws(
      () => renderAgentConfig([], { ...COMPOSE_AGENT_OPTIONS, renderInterval: 'soon' }),
      /render interval "soon"/,
    );
  });

  test('a malformed objects list names the entry and the field', () => {
    assert.throws(() => parseObjects({}), /must be a JSON array/);
    assert.throws(
      () => parseObjects([{ objectName: '../x', secretPath: 'secret/data/a', secretKey: 'k' }]),
      /\[0\]\.objectName: must be a file name/,
    );
    assert.throws(
      () => parseObjects([{ objectName: 'x', secretPath: 'secret/aidbox/client', secretKey: 'k' }]),
      /\[0\]\.secretPath: must be a KV v2 API path/,
    );
    assert.throws(
      () => parseObjects([{ objectName: 'x', secretPath: 'secret/data/a', secretKey: '' }]),
      /\[0\]\.secretKey/,
    );
    assert.throws(
      () =>
        parseObjects([
          { objectName: 'x', secretPath: 'secret/data/a', secretKey: 'k' },
          { objectName: 'x', secretPath: 'secret/data/b', secretKey: 'k' },
        ]),
      /\[1\]\.objectName: x is listed twice/,
    );
  });
});
