/**
 * What the /fhir routes may do for whom, and which Clients can work: the authentication layer's half of
 * fhir/routes.ts (`ResourceAccess`).
 *
 * A Client is refused with 422 when it holds a plain `secret` (a value is never stored in PostgreSQL), when
 * its `permissions` are malformed, when its secret reference cannot work (unknown file secret, out of scope,
 * users' credential mount), or when it would demote the bootstrap admin Client.
 */
import { UnprocessableError, stackCommands } from '@aurora/common';
import type { ResourceAccess } from '../fhir/routes.js';
import { secretReferenceText } from '../fhir/secret-reference.js';
import type { Resource } from '../fhir/store.js';
import { assertAdmin, callerOf, permissionProblems } from './client-identity.js';
import type { ClientSecrets } from './client-secrets.js';
import type { ClientDirectory } from './client-directory.js';

/**
 * Throws the 422 the route answers with when `resource` cannot serve as Client `id`, including a `vault:` secret
 * reference the app cannot read now (ClientSecrets.assertReadable). Never echoes a value.
 */
export async function checkClient(
  resource: Resource,
  id: string,
  secrets: ClientSecrets,
  bootstrapAdminId?: string,
): Promise<void> {
  if ('secret' in resource) {
    throw new UnprocessableError(
      `secret: a plain secret value is never stored. Put the value in Vault (${stackCommands().vaultCli} kv put secret/aidbox/client client-secret=...) ` +
        'and reference it in _secret.extension with url http://health-samurai.io/fhir/secret-reference: valueString = a SECRETS_CONFIG name (e.g. client-secret) or vault:kv/data/secret/<path>',
    );
  }
  const problems = permissionProblems(resource.permissions);
  if (problems.length) throw new UnprocessableError(problems.join('; '));
  const text = secretReferenceText(resource);
  const ref = text === undefined ? undefined : secrets.check('Client', id, text);
  if (id === bootstrapAdminId && (resource.permissions as { admin?: unknown } | undefined)?.admin !== true) {
    throw new UnprocessableError(
      `permissions.admin: Client ${id} is the bootstrap admin and must keep "permissions": {"admin": true} (nothing would restore it); ` +
        'delete it instead to have the app recreate it at its next start',
    );
  }
  // Last: the only check that asks Vault, made once everything that needs no round trip has passed.
  if (ref) await secrets.assertReadable(ref);
}

export function resourceAccess(
  secrets: ClientSecrets,
  clients: ClientDirectory,
  bootstrapAdminId?: string,
): ResourceAccess {
  return {
    caller: callerOf,
    assertAdmin,
    checkClient: (resource, id) => checkClient(resource, id, secrets, bootstrapAdminId),
    clientChanged: (id, resource) => {
      clients.forget(id);
      // A Client stored again after its Vault-held secret was rotated authenticates with the new value at once.
      const text = resource ? secretReferenceText(resource) : undefined;
      if (text !== undefined) secrets.forget(text);
    },
  };
}
