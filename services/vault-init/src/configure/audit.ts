/** The file audit device. Vault HMACs every secret value in it, so it is safe to keep and to read. */
import type { VaultClient } from '@aurora/common';
import type { Change } from './types.js';

export const AUDIT_PATH = 'file';

export async function ensureFileAudit(client: VaultClient, filePath: string): Promise<Change> {
  const devices = await client.auditDevices();
  const actual = devices[`${AUDIT_PATH}/`];
  if (actual && actual.type === 'file' && actual.options?.file_path === filePath) return 'unchanged';
  if (actual) {
    // Audit devices cannot be tuned, only replaced; the unaudited gap is the one request in between.
    await client.delete(`sys/audit/${AUDIT_PATH}`);
  }
  await client.enableAuditDevice(AUDIT_PATH, 'file', { file_path: filePath });
  return actual ? 'updated' : 'created';
}
