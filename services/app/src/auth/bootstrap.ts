/**
 * The bootstrap admin Client: after `make prod-local` a Client `admin` exists whose secret nobody copied by
 * hand. vault-init generates it into Vault (`secret/aurora/admin#client-secret`), the agent renders it to
 * /run/vault-secrets/admin-secret, and the app creates the Client pointing at that file secret. Created only
 * when absent: an admin who changed or replaced it keeps their version.
 */
import type { Logger } from '@aurora/common';
import { DATA_ABSENT_REASON_URL, SECRET_REFERENCE_URL } from '../fhir/secret-reference.js';
import type { Resource, ResourceStore } from '../fhir/store.js';
import type { FileSecrets } from '../file-secrets/reader.js';
import { formatScope, scopeIncludes } from '../file-secrets/config.js';

export function adminClient(id: string, secretName: string): Resource {
  return {
    resourceType: 'Client',
    id,
    grant_types: ['basic'],
    _secret: {
      extension: [
        { url: DATA_ABSENT_REASON_URL, valueCode: 'masked' },
        { url: SECRET_REFERENCE_URL, valueString: secretName },
      ],
    },
    permissions: { admin: true },
  };
}

export async function ensureAdminClient(
  store: ResourceStore,
  fileSecrets: FileSecrets,
  logger: Logger,
  id: string,
  secretName: string,
): Promise<void> {
  const entry = fileSecrets.entry(secretName);
  if (!entry) {
    logger.warn('no bootstrap admin Client: SECRETS_CONFIG has no secret of that name', {
      admin_client: id,
      ref: secretName,
    });
    return;
  }
  if (!scopeIncludes(entry.scope, 'Client', id)) {
    logger.warn('no bootstrap admin Client: the secret is scoped elsewhere', {
      admin_client: id,
      ref: secretName,
      scope: formatScope(entry.scope),
    });
    return;
  }
  const created = await store.create('Client', id, adminClient(id, secretName));
  logger.info(created ? 'created the bootstrap admin Client' : 'bootstrap admin Client already exists', {
    admin_client: id,
    ref: secretName,
    file: entry.path,
  });
}
