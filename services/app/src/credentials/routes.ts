/**
 * HTTP routes of user credentials: validate, authorize, delegate to the service. Nothing else.
 *
 *   PUT    /users/:userId/credentials/:type           {"data": {...}}, optional If-Match: <version>
 *   GET    /users/:userId/credentials                 references + metadata
 *   GET    /users/:userId/credentials/:type           reference + metadata; version and ETag = Vault's current version
 *   POST   /users/:userId/credentials/:type/resolve   {reference, version, data} (permission "resolve", audit-logged)
 *   DELETE /users/:userId/credentials/:type           row + every version in Vault
 *
 * Error messages name the field that is wrong and never echo a value.
 */
import { Router, type Request } from 'express';
import { ValidationError, assertSegment, type Logger } from '@aurora/common';
import { assertCredentialAccess, callerOf, type CredentialAction } from '../auth/client-identity.js';
import type { CredentialsService } from './service.js';

export const MAX_FIELDS = 64;
export const MAX_VALUE_BYTES = 8 * 1024;
/** A field name: like a path segment (letters, digits, `.`, `_`, `-`), 1-128 characters. */
export const FIELD_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A field name as it may appear in an error message: JSON-quoted and cut short. */
function shown(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** `{"data": {<name>: <string>}}`, nothing more: returns a null-prototype copy of `data`. */
export function parseCredentialBody(body: unknown): Record<string, string> {
  if (!isPlainObject(body))
    throw new ValidationError(
      'body',
      'must be a JSON object {"data": {"<field>": "<string value>"}} sent with content-type: application/json',
    );
  for (const key of Object.keys(body)) {
    if (key !== 'data') throw new ValidationError('body', `unknown field ${shown(key)}; only "data" is accepted`);
  }
  const data = body.data;
  if (data === undefined) throw new ValidationError('data', 'is required: {"data": {"<field>": "<string value>"}}');
  if (!isPlainObject(data)) throw new ValidationError('data', 'must be an object of string fields');
  const keys = Object.keys(data);
  if (keys.length === 0) throw new ValidationError('data', 'must have at least one field');
  if (keys.length > MAX_FIELDS)
    throw new ValidationError('data', `has ${keys.length} fields; at most ${MAX_FIELDS} are allowed`);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const key of keys) {
    if (!FIELD_PATTERN.test(key) || key.includes('..')) {
      throw new ValidationError(
        'data',
        `field name ${shown(key)} must be 1-128 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit`,
      );
    }
    const value = data[key];
    const field = `data.${key}`;
    if (typeof value !== 'string')
      throw new ValidationError(
        field,
        `must be a string, not ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
      );
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > MAX_VALUE_BYTES)
      throw new ValidationError(field, `is ${bytes} bytes; at most ${MAX_VALUE_BYTES} are allowed`);
    if (LONE_SURROGATE.test(value)) throw new ValidationError(field, 'is not valid Unicode (lone surrogate)');
    out[key] = value;
  }
  return out;
}

/** `If-Match: <version>` (also `"<version>"`, as an ETag): the KV v2 check-and-set version; 0 = must not exist. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!m) throw new ValidationError('If-Match', 'must be a credential version number (0 = create only if absent)');
  return Number(m[1]);
}

interface Target {
  userId: string;
  type: string;
}

/** Path parameters first (400 naming the part), then the caller's permission (403). */
function target(
  req: Request,
  res: Parameters<typeof callerOf>[0],
  action: CredentialAction,
  withType: boolean,
): Target & { clientId: string } {
  const params = req.params as Record<string, string | undefined>;
  const userId = assertSegment('user_id', params.userId);
  const type = withType ? assertSegment('credential_type', params.type) : '';
  const caller = callerOf(res);
  assertCredentialAccess(caller, action, userId);
  return { userId, type, clientId: caller.clientId };
}

export function credentialRoutes(service: CredentialsService, logger: Logger): Router {
  const router = Router();

  router.put('/users/:userId/credentials/:type', async (req, res) => {
    const { userId, type } = target(req, res, 'write', true);
    const ifMatch = parseIfMatch(req.get('if-match'));
    const data = parseCredentialBody(req.body);
    const { credential, created } = await service.put(userId, type, data, ifMatch);
    res
      .status(created ? 201 : 200)
      .set('ETag', `"${credential.version}"`)
      .json(credential);
  });

  router.get('/users/:userId/credentials', async (req, res) => {
    const { userId } = target(req, res, 'read', false);
    res.json({ user_id: userId, credentials: await service.list(userId) });
  });

  router.get('/users/:userId/credentials/:type', async (req, res) => {
    const { userId, type } = target(req, res, 'read', true);
    const { credential, confirmed } = await service.get(userId, type);
    // The ETag is what a following If-Match is compared with (Vault's current version): sent only when checked.
    if (confirmed) res.set('ETag', `"${credential.version}"`);
    res.json(credential);
  });

  router.post('/users/:userId/credentials/:type/resolve', async (req, res) => {
    const { userId, type, clientId } = target(req, res, 'resolve', true);
    const resolved = await service.resolve(userId, type);
    res
      .set('Cache-Control', 'no-store')
      .json({ reference: resolved.reference, version: resolved.version, data: resolved.data });
    // The audit line (who resolved what, never the value), formatted and written after the answer has gone out:
    // its redaction, JSON and (synchronous) stderr write do not delay the response.
    setImmediate(() =>
      logger.info('credential resolved', {
        audit: 'credential.resolve',
        client_id: clientId,
        user_id: userId,
        credential_type: type,
        reference: resolved.reference,
        version: resolved.version,
      }),
    );
  });

  router.delete('/users/:userId/credentials/:type', async (req, res) => {
    const { userId, type, clientId } = target(req, res, 'delete', true);
    await service.delete(userId, type);
    res.status(204).end();
    setImmediate(() =>
      logger.info('credential deleted', {
        audit: 'credential.delete',
        client_id: clientId,
        user_id: userId,
        credential_type: type,
      }),
    );
  });

  return router;
}
