/**
 * Names the likely cause of a Vault failure that Vault itself only calls "internal error". Vault's answers to
 * authenticated requests go through its audit devices; `sys/health` does not (it needs no token and is never
 * audited). So a bare 500 "internal error" on an authenticated call while `sys/health` says initialized,
 * unsealed and active points at the audit devices: Vault refuses any request it cannot audit (Vault docs,
 * "Blocked audit devices"; checked with Vault 1.21.4: a full disk gives exactly that, and sys/health stays 200).
 */
import { AUDIT_LOG_DIAGNOSIS, VaultRefusingError, isBareInternalError } from './errors.js';
import type { VaultClient } from './vault-client.js';

/**
 * `err` as it came from an authenticated call with `client`, or a `VaultRefusingError` naming the likely cause
 * when Vault answered 500 while it reports itself healthy and active. Never throws: a failed health check
 * leaves `err` as it was.
 */
export async function diagnoseVaultError(client: VaultClient, err: unknown): Promise<unknown> {
  if (!isBareInternalError(err)) return err;
  try {
    const health = await client.health();
    // A standby answers 500 while no node is active (a failover): that is not the audit devices.
    if (health.initialized && !health.sealed && !health.standby)
      return new VaultRefusingError(AUDIT_LOG_DIAGNOSIS, err);
  } catch {
    // Unreachable or worse: the original error says enough.
  }
  return err;
}
