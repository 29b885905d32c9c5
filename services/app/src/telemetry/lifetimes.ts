/**
 * The lifetimes the metrics report, read at scrape time from what the Vault session offers: the app's token,
 * by `auth/token/lookup-self` (its `ttl`, seconds left). One cheap Vault read per scrape, and the answer is
 * Vault's own, so it stays right across renewals and re-logins that happen between scrapes.
 */
import type { VaultSession } from '../vault/session.js';
import type { Lifetime } from './metrics.js';

/**
 * The app token's seconds to expiry, as one `Lifetime` named `app-token`. Empty when Vault cannot say (no
 * token yet, Vault sealed or unreachable) or when the token never expires (a root VAULT_TOKEN: ttl 0, no
 * expire_time): a gauge that is absent is clearer than one stuck at 0.
 */
export async function tokenLifetime(vault: Pick<VaultSession, 'client'>): Promise<Lifetime[]> {
  if (!vault.client.token) return [];
  try {
    const info = await vault.client.lookupSelf();
    if (info.expire_time === null && info.ttl === 0) return [];
    return [{ kind: 'token', name: 'app-token', expiresInSeconds: info.ttl }];
  } catch {
    return [];
  }
}
