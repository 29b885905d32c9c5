/** The file audit device. Vault HMACs every secret value in it, so it is safe to keep and to read. */
import { VaultRequestError, type VaultClient } from '@aurora/common';
import type { Change } from './types.js';

export const AUDIT_PATH = 'file';

export async function ensureFileAudit(client: VaultClient, filePath: string, attempt = 1): Promise<Change> {
  const devices = await client.auditDevices();
  const actual = devices[`${AUDIT_PATH}/`];
  if (actual && actual.type === 'file' && actual.options?.file_path === filePath) return 'unchanged';
  if (actual) {
    // Audit devices cannot be tuned, only replaced; the unaudited gap is the one request in between.
    await client.delete(`sys/audit/${AUDIT_PATH}`);
  }
  try {
    await client.enableAuditDevice(AUDIT_PATH, 'file', { file_path: filePath });
  } catch (err) {
    // Another client's enable landed between our read and our write: typically the request of a vault-init
    // killed mid-configure, which Vault finished after the kill. Compare with what is there now, once.
    if (attempt === 1 && err instanceof VaultRequestError && /already registered/.test(err.message)) {
      return ensureFileAudit(client, filePath, attempt + 1);
    }
    throw err;
  }
  return actual ? 'updated' : 'created';
}
