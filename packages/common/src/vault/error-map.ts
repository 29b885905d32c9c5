/**
 * The one place where Vault's answers become our error types, for every call the client makes (node-vault's
 * JSON calls and the binary snapshot transfers alike): sealed, forbidden, not found, conflict, any other status,
 * and no answer at all (unreachable). Vault's messages never carry secret values; request bodies are never included.
 */
import {
  AuroraError,
  VaultConflictError,
  VaultForbiddenError,
  VaultNotFoundError,
  VaultRequestError,
  VaultSealedError,
  VaultUnreachableError,
} from '../errors.js';

/**
 * Maps one failed call. `status` is Vault's HTTP status, undefined when Vault did not answer (refused, reset,
 * timed out); `message` is Vault's first entry of `errors`, if any.
 */
export function vaultError(addr: string, path: string, status: number | undefined, message: string, cause: unknown) {
  if (cause instanceof AuroraError) return cause;
  if (status === undefined) return new VaultUnreachableError(addr, cause, path);
  if (status === 503 && /sealed/i.test(message)) return new VaultSealedError(cause);
  if (status === 403) return new VaultForbiddenError(path, cause);
  if (status === 404) return new VaultNotFoundError(path, cause);
  if (/check-and-set/i.test(message)) return new VaultConflictError(path, cause);
  return new VaultRequestError(path, status, message || `status ${status}`, cause);
}

/** Vault's first error message from a JSON error body (`{"errors": [...]}`), or '' when there is none. */
export function firstVaultMessage(body: unknown): string {
  const errors = (body as { errors?: unknown[] } | undefined)?.errors;
  const first = Array.isArray(errors) ? errors[0] : undefined;
  return typeof first === 'string' ? first : '';
}
