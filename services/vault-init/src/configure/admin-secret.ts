/**
 * The bootstrap admin secret (secret/aurora/admin, key client-secret): generated once, kept forever after,
 * never logged. The agent renders it to a file for the app.
 */
import crypto from 'node:crypto';
import { VaultNotFoundError, registerSecret, type VaultClient } from '@aurora/common';
import type { Change } from './types.js';

export const ADMIN_SECRET_MOUNT = 'secret';
export const ADMIN_SECRET_PATH = 'aurora/admin';
export const ADMIN_SECRET_KEY = 'client-secret';

export async function ensureAdminSecret(client: VaultClient): Promise<Change> {
  let currentVersion = 0;
  try {
    currentVersion = (await client.kvMetadata(ADMIN_SECRET_MOUNT, ADMIN_SECRET_PATH)).current_version;
  } catch (err) {
    if (!(err instanceof VaultNotFoundError)) throw err;
  }
  let data: Record<string, string> = {};
  if (currentVersion > 0) {
    try {
      data = (await client.kvRead(ADMIN_SECRET_MOUNT, ADMIN_SECRET_PATH)).data;
    } catch (err) {
      // The latest version was deleted: a new version restores the secret.
      if (!(err instanceof VaultNotFoundError)) throw err;
    }
  }
  if (typeof data[ADMIN_SECRET_KEY] === 'string' && data[ADMIN_SECRET_KEY].length > 0) return 'unchanged';
  const secret = crypto.randomBytes(32).toString('base64url');
  registerSecret(secret);
  // Check-and-set on the version we read: a secret someone sets meanwhile wins over ours.
  await client.kvWrite(ADMIN_SECRET_MOUNT, ADMIN_SECRET_PATH, { ...data, [ADMIN_SECRET_KEY]: secret }, currentVersion);
  return currentVersion > 0 ? 'updated' : 'created';
}
