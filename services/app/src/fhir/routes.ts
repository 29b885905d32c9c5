/**
 * /fhir/Client and /fhir/Patient: the user's JSON stored and returned unchanged (PostgreSQL `json`).
 *
 * Clients are managed by admin Clients (`permissions.admin`); a Client may read its own resource. A Client
 * never holds a secret value: `_secret.extension` names a file secret from SECRETS_CONFIG or a vault:
 * reference, and a plain `secret` is refused with 422 (decided: reject, never move it into Vault silently).
 * Patients are a small protected resource any authenticated Client may read and write.
 */
import { Router, type Request } from 'express';
import { NotFoundError, UnprocessableError, ValidationError } from '@aurora/common';
import { assertAdmin, callerOf, permissionProblems } from '../auth/client-identity.js';
import type { ClientSecrets } from '../auth/client-secrets.js';
import { secretReferenceText } from './secret-reference.js';
import type { Resource, ResourceStore } from './store.js';

/** FHIR's id rule: 1-64 characters from A-Z a-z 0-9 - . */
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

function idParam(req: Request): string {
  const id = req.params.id;
  if (typeof id !== 'string' || !FHIR_ID.test(id))
    throw new ValidationError('id', 'must be 1-64 characters from A-Z a-z 0-9 - .');
  return id;
}

function bodyOf(req: Request, type: string, id: string): Resource {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ValidationError('body', `must be a ${type} resource (a JSON object)`);
  const resource = body as Resource;
  if (resource.resourceType !== type) throw new ValidationError('resourceType', `must be "${type}"`);
  if (resource.id !== id) throw new ValidationError('id', `must be present and equal the id in the URL ("${id}")`);
  return resource;
}

function countParam(req: Request): number {
  const raw = req.query._count;
  if (raw === undefined) return 100;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || n < 1 || n > 1000)
    throw new ValidationError('_count', 'must be a whole number from 1 to 1000');
  return n;
}

export function bundle(resources: Resource[], total: number): Resource {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total,
    entry: resources.map((resource) => ({ resource, search: { mode: 'match' } })),
  };
}

function send(res: import('express').Response, status: number, body: unknown): void {
  res.status(status).type('application/fhir+json').send(JSON.stringify(body));
}

export interface FhirRoutesOptions {
  store: ResourceStore;
  secrets: ClientSecrets;
  /** The bootstrap admin Client: it may be changed or deleted (it is recreated at start), but not demoted. */
  bootstrapAdminId?: string;
}

/** Validates a Client for storage; throws the 400/422 the route answers with. Never echoes a secret value. */
export function validateClient(resource: Resource, id: string, secrets: ClientSecrets): void {
  if ('secret' in resource) {
    throw new UnprocessableError(
      'secret: a plain secret value is never stored. Put the value in Vault (docker exec vault vault kv put secret/aidbox/client client-secret=...) ' +
        'and reference it in _secret.extension with url http://health-samurai.io/fhir/secret-reference: valueString = a SECRETS_CONFIG name (e.g. client-secret) or vault:kv/data/secret/<path>',
    );
  }
  const problems = permissionProblems(resource.permissions);
  if (problems.length) throw new UnprocessableError(problems.join('; '));
  const text = secretReferenceText(resource);
  if (text !== undefined) secrets.check('Client', id, text);
}

export function fhirRoutes(options: FhirRoutesOptions): Router {
  const { store, secrets } = options;
  const router = Router();

  router.get('/fhir/Client', async (req, res) => {
    assertAdmin(callerOf(res));
    const { total, resources } = await store.list('Client', countParam(req));
    send(res, 200, bundle(resources, total));
  });

  router.get('/fhir/Client/:id', async (req, res) => {
    const caller = callerOf(res);
    const id = idParam(req);
    if (caller.clientId !== id) assertAdmin(caller);
    const resource = await store.get('Client', id);
    if (!resource) throw new NotFoundError(`no Client ${id}`);
    send(res, 200, resource);
  });

  router.put('/fhir/Client/:id', async (req, res) => {
    assertAdmin(callerOf(res));
    const id = idParam(req);
    const resource = bodyOf(req, 'Client', id);
    validateClient(resource, id, secrets);
    if (id === options.bootstrapAdminId && (resource.permissions as { admin?: unknown } | undefined)?.admin !== true) {
      throw new UnprocessableError(
        `permissions.admin: Client ${id} is the bootstrap admin and must keep "permissions": {"admin": true} (nothing would restore it); ` +
          'delete it instead to have the app recreate it at its next start',
      );
    }
    const created = await store.put('Client', id, resource);
    send(res, created ? 201 : 200, resource);
  });

  router.delete('/fhir/Client/:id', async (req, res) => {
    assertAdmin(callerOf(res));
    const id = idParam(req);
    if (!(await store.delete('Client', id))) throw new NotFoundError(`no Client ${id}`);
    res.status(204).end();
  });

  router.get('/fhir/Patient', async (req, res) => {
    callerOf(res);
    const { total, resources } = await store.list('Patient', countParam(req));
    send(res, 200, bundle(resources, total));
  });

  router.get('/fhir/Patient/:id', async (req, res) => {
    callerOf(res);
    const id = idParam(req);
    const resource = await store.get('Patient', id);
    if (!resource) throw new NotFoundError(`no Patient ${id}`);
    send(res, 200, resource);
  });

  router.put('/fhir/Patient/:id', async (req, res) => {
    callerOf(res);
    const id = idParam(req);
    const resource = bodyOf(req, 'Patient', id);
    const created = await store.put('Patient', id, resource);
    send(res, created ? 201 : 200, resource);
  });

  return router;
}
