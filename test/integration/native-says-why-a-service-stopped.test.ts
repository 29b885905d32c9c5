// User story: as a developer whose `make native` cannot get a service going (here vault-init refuses a setting in my
// environment), I read that service's own last words as soon as it has stopped: not, a minute later, that it "did
// not come up", with the reason left in a log file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeScene } from '../support/native-scene.js';

test('make native with a setting vault-init refuses: vault-init’s own message, at once', async () => {
  const { run: runNative } = await nativeScene('native-service-stops', { VAULT_SECRET_THRESHOLD: '0' });
  try {
    const r = runNative('up');
    const said = r.stdout + r.stderr;
    assert.notEqual(r.status, 0, `make native succeeded with VAULT_SECRET_THRESHOLD=0:\n${said}`);
    assert.match(said, /vault-init exited; see .*vault-init\.log/, said);
    assert.match(said, /VAULT_SECRET_THRESHOLD/, 'vault-init’s own words name the setting');
    assert.doesNotMatch(said, /did not come up within/, 'make native waited out its timeout');
    assert.match(said, /still running: vault, postgres\. .*make native-down to stop them/, 'says what it left running');
  } finally {
    const c = runNative('clean');
    assert.equal(c.status, 0, c.stdout + c.stderr);
  }
});
