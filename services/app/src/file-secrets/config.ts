/**
 * SECRETS_CONFIG: which named secrets the app reads from files, and which resources may use each one.
 * The analog of the user's BOX_VAULT_CONFIG:
 *
 *   { "secret": { "client-secret": { "path": "/run/vault-secrets/client-secret",
 *                                     "scope": { "resource_type": "Client", "id": "basic" } } } }
 *
 * `path` must be absolute; `scope.resource_type` is required; `scope.id` is optional (absent = any instance
 * of that type). Every problem is collected and reported at once, each naming the entry and the field, so a
 * bad config stops the app at start with the whole list (a ConfigError).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, SEGMENT_RULE, isSafeSegment } from '@aurora/common';

export interface SecretScope {
  resourceType: string;
  /** Absent: any instance of `resourceType`. */
  id?: string;
}

export interface FileSecretEntry {
  name: string;
  path: string;
  scope: SecretScope;
}

export interface SecretsConfig {
  /** Where the config came from (for messages); undefined when no file was read. */
  source?: string;
  secrets: ReadonlyMap<string, FileSecretEntry>;
}

const EXAMPLE =
  '{"secret": {"client-secret": {"path": "/run/vault-secrets/client-secret", "scope": {"resource_type": "Client", "id": "basic"}}}}';
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{0,63}$/;
const RESOURCE_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** `Client/basic`, or `Client/*` for a scope without an id: how scopes are named in messages and logs. */
export function formatScope(scope: SecretScope): string {
  return `${scope.resourceType}/${scope.id ?? '*'}`;
}

/** Does `scope` include the resource `resourceType/id`? */
export function scopeIncludes(scope: SecretScope, resourceType: string, id: string): boolean {
  return scope.resourceType === resourceType && (scope.id === undefined || scope.id === id);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * Parses the config's JSON value. Returns the entries, or throws a ConfigError whose problems each name the
 * entry and the field (`secret["client-secret"].scope.resource_type: ...`).
 */
export function parseSecretsConfig(value: unknown, source = 'SECRETS_CONFIG'): SecretsConfig {
  const problems: string[] = [];
  const secrets = new Map<string, FileSecretEntry>();
  const at = (field: string, message: string) => problems.push(`${source}: ${field}: ${message}`);

  if (!isObject(value)) {
    at('(top level)', `must be a JSON object with a "secret" key, got ${kind(value)}; example: ${EXAMPLE}`);
    throw new ConfigError(problems);
  }
  for (const key of Object.keys(value)) {
    if (key !== 'secret') at(key, 'unknown top-level key; the only one is "secret"');
  }
  const section = value.secret;
  if (section === undefined) at('secret', `missing; example: ${EXAMPLE}`);
  else if (!isObject(section))
    at('secret', `must be an object mapping secret names to {"path", "scope"}, got ${kind(section)}`);
  else {
    for (const [name, raw] of Object.entries(section)) {
      const entry = `secret[${JSON.stringify(name)}]`;
      if (!isSafeSegment(name)) at(entry, `the name must be ${SEGMENT_RULE}`);
      if (!isObject(raw)) {
        at(entry, `must be an object with "path" and "scope", got ${kind(raw)}`);
        continue;
      }
      for (const key of Object.keys(raw)) {
        if (key !== 'path' && key !== 'scope')
          at(`${entry}.${key}`, 'unknown field; an entry has only "path" and "scope"');
      }
      const file = raw.path;
      let okPath = false;
      if (file === undefined)
        at(`${entry}.path`, `missing; the absolute path of the file, e.g. "/run/vault-secrets/${name}"`);
      else if (typeof file !== 'string' || file.trim() === '')
        at(`${entry}.path`, `must be a non-empty string, got ${kind(file)}`);
      else if (!path.isAbsolute(file))
        at(`${entry}.path`, `must be an absolute path, got ${JSON.stringify(file)}; e.g. "/run/vault-secrets/${name}"`);
      else if (file.endsWith('/')) at(`${entry}.path`, `must name a file, not a directory: ${JSON.stringify(file)}`);
      else okPath = true;

      const scope = raw.scope;
      let parsedScope: SecretScope | undefined;
      if (scope === undefined)
        at(
          `${entry}.scope`,
          'missing; which resources may use this secret, e.g. {"resource_type": "Client", "id": "basic"}',
        );
      else if (!isObject(scope))
        at(`${entry}.scope`, `must be an object like {"resource_type": "Client", "id": "basic"}, got ${kind(scope)}`);
      else {
        for (const key of Object.keys(scope)) {
          if (key !== 'resource_type' && key !== 'id')
            at(`${entry}.scope.${key}`, 'unknown field; a scope has "resource_type" and, optionally, "id"');
        }
        const type = scope.resource_type;
        const id = scope.id;
        let okScope = true;
        if (type === undefined) {
          okScope = false;
          at(`${entry}.scope.resource_type`, 'missing; required, e.g. "Client"');
        } else if (typeof type !== 'string' || !RESOURCE_TYPE.test(type)) {
          okScope = false;
          at(
            `${entry}.scope.resource_type`,
            `must be a resource type name such as "Client", got ${typeof type === 'string' ? JSON.stringify(type) : kind(type)}`,
          );
        }
        if (id !== undefined && (typeof id !== 'string' || !RESOURCE_ID.test(id))) {
          okScope = false;
          at(
            `${entry}.scope.id`,
            `must be a resource id (1-64 characters from A-Z a-z 0-9 - .), or left out to allow every ${typeof type === 'string' ? type : 'resource'}; got ${typeof id === 'string' ? JSON.stringify(id) : kind(id)}`,
          );
        }
        if (okScope) parsedScope = { resourceType: type as string, ...(id === undefined ? {} : { id: id as string }) };
      }
      if (okPath && parsedScope && isSafeSegment(name)) {
        secrets.set(
          name,
          Object.freeze({ name, path: path.normalize(file as string), scope: Object.freeze(parsedScope) }),
        );
      }
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze({ source, secrets });
}

/**
 * Reads and parses the config file. A missing file is an error when `required` (SECRETS_CONFIG was set
 * explicitly) and means "no file secrets" otherwise.
 */
export function loadSecretsConfig(file: string, required: boolean): SecretsConfig {
  const source = `SECRETS_CONFIG=${file}`;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    if (!required && code === 'ENOENT') return Object.freeze({ secrets: new Map() });
    throw new ConfigError([
      `${source}: cannot read the file (${code}); point SECRETS_CONFIG at a JSON file like ${EXAMPLE}`,
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`${source}: not valid JSON (${(err as Error).message}); example: ${EXAMPLE}`]);
  }
  return parseSecretsConfig(value, source);
}
