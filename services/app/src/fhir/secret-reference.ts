/**
 * The `_secret` extension: how a resource names its secret without holding it (the user's Aidbox shape).
 *
 *   "_secret": { "extension": [
 *     { "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "masked" },
 *     { "url": "http://health-samurai.io/fhir/secret-reference", "valueString": "client-secret" } ] }
 *
 * The reference is either the name of a file secret from SECRETS_CONFIG, or a Vault KV v2 reference
 * `vault:kv/data/<mount>/<path>`, optionally `#<key>` (default: the key `client-secret`, or the only key).
 */
import { REFERENCE_PREFIX, ValidationError, isSafeSegment, parseVaultReference } from '@aurora/common';

export const DATA_ABSENT_REASON_URL = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';
export const SECRET_REFERENCE_URL = 'http://health-samurai.io/fhir/secret-reference';

export type SecretRef =
  { kind: 'file'; name: string } | { kind: 'vault'; mount: string; path: string; key?: string; text: string };

/** Parses a reference's text; throws ValidationError naming what is wrong (the text itself is not secret). */
export function parseSecretRef(text: string): SecretRef {
  if (text.startsWith('vault:')) {
    const hash = text.indexOf('#');
    const base = hash === -1 ? text : text.slice(0, hash);
    const key = hash === -1 ? undefined : text.slice(hash + 1);
    if (!base.startsWith(REFERENCE_PREFIX))
      throw new ValidationError(
        'secret-reference',
        `a Vault reference must look like ${REFERENCE_PREFIX}<mount>/<path>[#<key>]`,
      );
    const { mount, path } = parseVaultReference(base);
    if (key !== undefined && !isSafeSegment(key))
      throw new ValidationError(
        'secret-reference',
        'the key after # must be 1-128 characters from A-Z a-z 0-9 . _ - @',
      );
    return { kind: 'vault', mount, path, ...(key === undefined ? {} : { key }), text };
  }
  if (!isSafeSegment(text))
    throw new ValidationError(
      'secret-reference',
      `must be the name of a secret in SECRETS_CONFIG or ${REFERENCE_PREFIX}<mount>/<path>`,
    );
  return { kind: 'file', name: text };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The secret reference text in `resource._secret`, undefined when there is no `_secret`.
 * Throws ValidationError (naming the field) when `_secret` is malformed.
 */
export function secretReferenceText(resource: Record<string, unknown>): string | undefined {
  const holder = resource._secret;
  if (holder === undefined) return undefined;
  if (!isObject(holder) || !Array.isArray(holder.extension)) {
    throw new ValidationError('_secret', 'must be {"extension": [...]} with a secret-reference extension');
  }
  let reference: string | undefined;
  for (const [i, ext] of holder.extension.entries()) {
    if (!isObject(ext) || typeof ext.url !== 'string')
      throw new ValidationError(`_secret.extension[${i}]`, 'must be an object with a "url"');
    if (ext.url === SECRET_REFERENCE_URL) {
      if (typeof ext.valueString !== 'string' || ext.valueString === '')
        throw new ValidationError(`_secret.extension[${i}].valueString`, 'must be the secret name or vault: reference');
      if (reference !== undefined)
        throw new ValidationError(`_secret.extension[${i}]`, `only one ${SECRET_REFERENCE_URL} extension is allowed`);
      reference = ext.valueString;
    } else if (ext.url === DATA_ABSENT_REASON_URL) {
      if (ext.valueCode !== 'masked')
        throw new ValidationError(
          `_secret.extension[${i}].valueCode`,
          'must be "masked": the value is never stored here',
        );
    }
  }
  if (reference === undefined)
    throw new ValidationError(
      '_secret.extension',
      `needs an extension with url ${SECRET_REFERENCE_URL} and a valueString naming the secret`,
    );
  return reference;
}
