/**
 * /fhir/Client and /fhir/Patient: the user's JSON, validated, then stored and returned unchanged
 * (PostgreSQL `json`).
 *
 * Clients are managed by admin Clients; a Client may read its own resource. A Client never holds a secret
 * value: `_secret.extension` names a file secret from SECRETS_CONFIG or a vault: reference, and a plain
 * `secret` is refused with 422 (decided: reject, never move it into Vault silently). Patients are a small
 * protected resource any authenticated Client may read and write; each is validated as a FHIR R4 Patient.
 * `Client` is Aidbox's own resource type, not FHIR's: only its FHIR parts (the id, the `_secret` extensions)
 * are validated as FHIR.
 *
 * Who may do what is decided by the authentication layer, handed in as `ResourceAccess`: this folder knows
 * resources, not Clients' permissions. 4xx answers are OperationOutcomes (operation-outcome.ts).
 */
import { Router, type Request, type Response } from 'express';
import { NotFoundError, ValidationError } from '@aurora/common';
import { assertResourceId } from './resource-id.js';
import { InvalidResourceError, operationOutcomeErrors } from './operation-outcome.js';
import type { Resource, ResourceStore } from './store.js';
import type { FhirValidator } from './validation.js';
import type { FhirValidatorLoader } from './validator-loader.js';

/** The authenticated caller, as far as these routes need to know. */
export interface ResourceCaller {
  clientId: string;
  admin: boolean;
}

/** What the authentication layer decides for these routes; each function throws the 401/403/422 to answer. */
export interface ResourceAccess {
  /** The authenticated caller; throws 401 when there is none. */
  caller(res: Response): ResourceCaller;
  /** Throws 403 unless `caller` may manage Clients. */
  assertAdmin(caller: ResourceCaller): void;
  /**
   * Rejects (422) a Client that cannot work: its permissions, its secret reference (a `vault:` one must be readable
   * now), a demoted admin.
   */
  checkClient(resource: Resource, id: string): Promise<void>;
  /**
   * Client `id` is about to change or has changed (`resource`: what it is now, if anything): whatever the
   * authentication layer keeps of it is forgotten. Called before and after the write, so that neither a read
   * in flight nor one made in between outlives it.
   */
  clientChanged(id: string, resource?: Resource): void;
}

function idParam(req: Request): string {
  // Checked on the route even though the body's id is validated too: the URL is what must round-trip.
  return assertResourceId('id', req.params.id);
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

function send(res: Response, status: number, body: unknown): void {
  res.status(status).type('application/fhir+json').send(JSON.stringify(body));
}

export interface FhirRoutesOptions {
  store: ResourceStore;
  access: ResourceAccess;
  /** The validator, loaded on the first write that needs it. */
  validator: FhirValidatorLoader;
}

/** The FHIR parts of a Client: each `_secret` extension must be a valid FHIR Extension. */
function clientFhirIssues(resource: Resource, validator: FhirValidator): InvalidResourceError | undefined {
  const holder = resource._secret;
  if (typeof holder !== 'object' || holder === null || Array.isArray(holder)) return undefined;
  const extensions = (holder as { extension?: unknown }).extension;
  if (!Array.isArray(extensions)) return undefined;
  const issues = extensions.flatMap((ext, i) =>
    validator.validateElement('Extension', ext, `Client._secret.extension[${i}]`),
  );
  return issues.length ? new InvalidResourceError(issues) : undefined;
}

export function fhirRoutes(options: FhirRoutesOptions): Router {
  const { store, access, validator } = options;
  const router = Router();

  router.get('/fhir/Client', async (req, res) => {
    access.assertAdmin(access.caller(res));
    const { total, resources } = await store.list('Client', countParam(req));
    send(res, 200, bundle(resources, total));
  });

  router.get('/fhir/Client/:id', async (req, res) => {
    const caller = access.caller(res);
    const id = idParam(req);
    if (caller.clientId !== id) access.assertAdmin(caller);
    const resource = await store.get('Client', id);
    if (!resource) throw new NotFoundError(`no Client ${id}`);
    send(res, 200, resource);
  });

  router.put('/fhir/Client/:id', async (req, res) => {
    access.assertAdmin(access.caller(res));
    const id = idParam(req);
    const resource = bodyOf(req, 'Client', id);
    const invalid = clientFhirIssues(resource, await validator());
    if (invalid) throw invalid;
    await access.checkClient(resource, id);
    access.clientChanged(id);
    const created = await store.put('Client', id, resource).finally(() => access.clientChanged(id, resource));
    send(res, created ? 201 : 200, resource);
  });

  router.delete('/fhir/Client/:id', async (req, res) => {
    access.assertAdmin(access.caller(res));
    const id = idParam(req);
    access.clientChanged(id);
    const deleted = await store.delete('Client', id).finally(() => access.clientChanged(id));
    if (!deleted) throw new NotFoundError(`no Client ${id}`);
    res.status(204).end();
  });

  router.get('/fhir/Patient', async (req, res) => {
    access.caller(res);
    const { total, resources } = await store.list('Patient', countParam(req));
    send(res, 200, bundle(resources, total));
  });

  router.get('/fhir/Patient/:id', async (req, res) => {
    access.caller(res);
    const id = idParam(req);
    const resource = await store.get('Patient', id);
    if (!resource) throw new NotFoundError(`no Patient ${id}`);
    send(res, 200, resource);
  });

  router.put('/fhir/Patient/:id', async (req, res) => {
    access.caller(res);
    const id = idParam(req);
    const resource = bodyOf(req, 'Patient', id);
    const issues = (await validator()).validate(resource);
    if (issues.length) throw new InvalidResourceError(issues);
    const created = await store.put('Patient', id, resource);
    send(res, created ? 201 : 200, resource);
  });

  router.use(operationOutcomeErrors);
  return router;
}
