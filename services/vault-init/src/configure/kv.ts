/** KV v2 mounts. A KV v1 or any other engine at the path is an error: silently reusing it would lose versions. */
import type { VaultClient } from '@aurora/common';
import { VaultObjectConflictError } from '../errors.js';
import type { Change } from './types.js';

export async function ensureKvV2(client: VaultClient, mount: string): Promise<Change> {
  const mounts = await client.mounts();
  const actual = mounts[`${mount}/`];
  if (!actual) {
    await client.enableSecretsEngine(mount, 'kv', { version: '2' }, 'KV v2, kept by vault-init');
    return 'created';
  }
  if (actual.type === 'kv' && actual.options?.version === '2') return 'unchanged';
  const what = actual.type === 'kv' ? 'a KV version 1 engine' : `a "${actual.type}" secrets engine`;
  throw new VaultObjectConflictError(
    `${mount}/ in Vault at ${client.addr} is ${what}, not KV version 2. vault-init will not reuse or replace it. ` +
      (actual.type === 'kv'
        ? `Upgrade it in place with \`vault kv enable-versioning ${mount}/\` (keeps the data), or set VAULT_KV_MOUNT to another name.`
        : `Move it (\`vault secrets move ${mount}/ <other>/\`), or set VAULT_KV_MOUNT to another name.`),
  );
}
