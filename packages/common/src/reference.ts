/**
 * The `vault:` reference format, the only thing PostgreSQL ever holds for a secret:
 *
 *   vault:kv/data/<mount>/<path>
 *
 * and, where one value of a secret is meant (a program's environment), `vault:kv/data/<mount>/<path>#<key>`.
 *
 * `kv/data/` is a fixed marker of a KV v2 secret; the mount follows, so a reference keeps pointing at
 * its own mount when VAULT_KV_MOUNT changes later. A user credential's path is
 * `<base>/<user_id>/<credential_type>`.
 */
import { ValidationError } from './errors.js';

export const REFERENCE_PREFIX = 'vault:kv/data/';

/**
 * One path segment: starts with a letter or digit, then letters, digits, `.`, `_`, `-`, `@`; at most 128
 * characters. No `/`, no `..`, no control characters, nothing that needs URL-encoding, because node-vault
 * puts paths into URLs as they are.
 */
export const SEGMENT_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._@-]{0,127})$/;
export const SEGMENT_RULE = '1-128 characters from A-Z a-z 0-9 . _ - @, starting with a letter or digit, without ".."';

export function isSafeSegment(value: unknown): value is string {
  return typeof value === 'string' && SEGMENT_PATTERN.test(value) && !value.includes('..');
}

/** Throws a ValidationError naming `field` unless `value` is one safe path segment. */
export function assertSegment(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new ValidationError(field, 'must be a string');
  if (value.length === 0) throw new ValidationError(field, 'must not be empty');
  if (value.length > 128)
    throw new ValidationError(field, `is ${value.length} characters long; at most 128 are allowed`);
  if (!isSafeSegment(value)) throw new ValidationError(field, `must be ${SEGMENT_RULE}`);
  return value;
}

/** A mount or base path: one or more safe segments joined by `/`. */
export function assertPath(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new ValidationError(field, 'must be a non-empty path');
  for (const seg of value.split('/')) assertSegment(field, seg);
  return value;
}

export interface VaultReference {
  /** KV v2 mount, one segment (e.g. `aurora`, `secret`). */
  mount: string;
  /** Path inside the mount (e.g. `users/alice/github`). */
  path: string;
}

export interface CredentialReference {
  mount: string;
  base: string;
  userId: string;
  credentialType: string;
}

export function formatVaultReference(ref: VaultReference): string {
  assertSegment('mount', ref.mount);
  assertPath('path', ref.path);
  return `${REFERENCE_PREFIX}${ref.mount}/${ref.path}`;
}

export function parseVaultReference(text: unknown): VaultReference {
  if (typeof text !== 'string' || !text.startsWith(REFERENCE_PREFIX)) {
    throw new ValidationError('reference', `must start with "${REFERENCE_PREFIX}"`);
  }
  const rest = text.slice(REFERENCE_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) {
    throw new ValidationError('reference', `must be ${REFERENCE_PREFIX}<mount>/<path>`);
  }
  const mount = assertSegment('reference mount', rest.slice(0, slash));
  const path = assertPath('reference path', rest.slice(slash + 1));
  return { mount, path };
}

/** One key of a KV v2 secret; without `key`, the secret must have exactly one key and that one is meant. */
export interface VaultKeyReference extends VaultReference {
  key?: string;
}

/** `vault:kv/data/<mount>/<path>#<key>`, or without `#<key>`; the key follows the segment rule too. */
export function formatVaultKeyReference(ref: VaultKeyReference): string {
  const base = formatVaultReference(ref);
  return ref.key === undefined ? base : `${base}#${assertSegment('key', ref.key)}`;
}

/**
 * Parses `vault:kv/data/<mount>/<path>[#<key>]`, the form a program's environment uses to name one value.
 * Throws ValidationError naming the part that is wrong (mount, path or key); the text is a name, not a secret.
 */
export function parseVaultKeyReference(text: unknown): VaultKeyReference {
  if (typeof text !== 'string') throw new ValidationError('reference', 'must be a string');
  const hash = text.indexOf('#');
  if (hash === -1) return parseVaultReference(text);
  const { mount, path } = parseVaultReference(text.slice(0, hash));
  const key = assertSegment('reference key (after #)', text.slice(hash + 1));
  return { mount, path, key };
}

export function formatCredentialReference(ref: CredentialReference): string {
  assertSegment('user_id', ref.userId);
  assertSegment('credential_type', ref.credentialType);
  return formatVaultReference({ mount: ref.mount, path: `${ref.base}/${ref.userId}/${ref.credentialType}` });
}

/**
 * Parses a credential reference; the last two segments are user id and type, the ones between mount and them the base.
 */
export function parseCredentialReference(text: unknown): CredentialReference {
  const { mount, path } = parseVaultReference(text);
  const parts = path.split('/');
  if (parts.length < 3) {
    throw new ValidationError('reference', 'must be vault:kv/data/<mount>/<base>/<user_id>/<credential_type>');
  }
  const credentialType = parts[parts.length - 1] as string;
  const userId = parts[parts.length - 2] as string;
  const base = parts.slice(0, -2).join('/');
  return { mount, base, userId, credentialType };
}
