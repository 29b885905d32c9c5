// User story: as a user of `make native` I follow what an error message tells me to run, and it is a command of
// my stack: `.native/logs/vault.log`, not `docker logs vault`; `set -a; . .native/env; set +a; vault kv put …`,
// not `docker exec vault vault kv put …`. On compose the messages keep naming docker, on Kubernetes kubectl.
// Which stack a process runs in is AURORA_STACK (make native and the Helm chart set it; compose is the default).
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { VaultRefusingError, VaultUnreachableError, currentStack, stackCommands } from '@aurora/common';
import { loadConfig } from '@aurora/app/config';
import { vaultCliHint } from '@aurora/app/doctor';
import { checkClient } from '@aurora/app/auth/resource-access';
import type { ClientSecrets } from '@aurora/app/auth/client-secrets';

const saved = process.env.AURORA_STACK;
const use = (kind: string | undefined) => {
  if (kind === undefined) delete process.env.AURORA_STACK;
  else process.env.AURORA_STACK = kind;
};

/** The 422 a Client carrying a plain `secret` gets (the message that tells the user to `vault kv put`). */
async function plainSecretMessage(): Promise<string> {
  try {
    await checkClient({ resourceType: 'Client', id: 'c', secret: 'x' }, 'c', {} as ClientSecrets);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('a plain secret was accepted');
}

describe('messages name the commands of the stack the user runs', () => {
  afterEach(() => use(saved));

  test('native: log files and the sourced vault CLI, never docker', async () => {
    use('native');
    const messages = [
      new VaultUnreachableError('http://127.0.0.1:8200').message,
      new VaultRefusingError('Vault refuses requests').message,
      await plainSecretMessage(),
      vaultCliHint(),
    ];
    for (const m of messages) assert.doesNotMatch(m, /docker/, m);
    assert.match(messages[0]!, /\.native\/logs\/vault\.log/);
    assert.match(messages[1]!, /\.native\/logs\/vault\.log.*\.native\/logs\/audit\.log/);
    assert.match(messages[2]!, /set -a; \. \.native\/env; set \+a; vault kv put secret\/aidbox\/client/);
    assert.match(messages[3]!, /\.native\/env/);
  });

  test('compose (the default): docker logs and docker exec, as before', async () => {
    use(undefined);
    assert.equal(currentStack(), 'compose');
    assert.match(new VaultUnreachableError('http://vault:8200').message, /make ps \/ docker logs vault\)/);
    // A call that timed out reached a Vault that runs: the message names the call and asks about load instead.
    const timedOut = Object.assign(new Error('no answer from Vault within 60000 ms'), { code: 'ETIMEDOUT' });
    assert.equal(
      new VaultUnreachableError('http://vault:8200', timedOut, 'sys/unseal').message,
      'Vault at http://vault:8200 did not answer sys/unseal in time (no answer from Vault within 60000 ms). ' +
        'Is it overloaded or stalled? (make ps / docker logs vault)',
    );
    assert.match(await plainSecretMessage(), /docker exec vault vault kv put secret\/aidbox\/client/);
    assert.match(vaultCliHint(), /docker exec vault <command>/);
    assert.equal(stackCommands().logs('app'), 'make logs');
  });

  test('kubernetes: kubectl', async () => {
    use('kubernetes');
    assert.match(new VaultUnreachableError('http://x:8200').message, /kubectl logs/);
    assert.match(await plainSecretMessage(), /kubectl exec -it <release>-vault-0 -- vault kv put/);
  });

  test('a wrong AURORA_STACK stops the app at start, naming the variable and an example', () => {
    assert.throws(
      () => loadConfig({ ...process.env, AURORA_STACK: 'docker' }),
      /AURORA_STACK="docker" is not valid; example: AURORA_STACK=native/,
    );
  });
});
