/** The database secrets engine's mount. Another engine at the path is an error: reusing it would mix concerns. */
import type { VaultClient } from '@aurora/common';
import { VaultObjectConflictError } from '../errors.js';
import type { Change } from './types.js';

/** Where the database secrets engine is mounted: `vault read database/creds/<role>`, as Vault's docs write it. */
export const DATABASE_MOUNT = 'database';

export async function ensureDatabaseEngine(client: VaultClient, mount = DATABASE_MOUNT): Promise<Change> {
  const actual = (await client.mounts())[`${mount}/`];
  if (!actual) {
    await client.enableSecretsEngine(mount, 'database', {}, 'PostgreSQL credentials, kept by vault-init');
    return 'created';
  }
  if (actual.type === 'database') return 'unchanged';
  throw new VaultObjectConflictError(
    `${mount}/ in Vault at ${client.addr} is a "${actual.type}" secrets engine, not the database engine. vault-init ` +
      `will not reuse or replace it: move it (\`vault secrets move ${mount}/ <other>/\`) and rerun vault-init.`,
  );
}
