/**
 * The one rule for comparing a Client's secret, whatever holds it (a file rendered by the agent, a `vault:`
 * reference, any later source): every source hands its stored value to `comparableStoredSecret`, and the
 * Basic-auth password goes through `comparablePresentedSecret`, before the constant-time comparison.
 *
 *  - A trailing run of CR/LF on the stored value is ignored: `printf 'x\n'`, `echo`, a template ending in a
 *    newline and a Windows editor's CRLF all store the same secret `x`. Nothing else is removed: a leading or
 *    trailing space, a tab or a byte order mark stays part of the secret, because we cannot tell a typing
 *    habit from a value someone chose (a log line points these out, see `storedSecretOddities`).
 *  - Both sides are compared in Unicode Normalization Form C. We announce `charset="UTF-8"` in
 *    WWW-Authenticate, and RFC 7617 §2.1 says that then the client converts the password to NFC before it
 *    encodes it as UTF-8; a secret stored in another form (macOS file names and some keyboards produce NFD)
 *    would otherwise never match a conforming client. Normalizing both sides keeps a client that sends the
 *    exact stored bytes working too.
 *
 * What is compared is a keyed digest of each side (`secretDigest`), never the values: equal lengths for
 * `timingSafeEqual` whatever the secrets' lengths, and the same digest of the presented secret is what the guess
 * limiter remembers, so a request makes one digest, not one per use.
 *
 * For comparing Client secrets only: user credentials resolved through /users/.../resolve are returned
 * exactly as stored.
 */
import crypto from 'node:crypto';
import { processHmacKey } from './process-key.js';

// One key for every digest that is compared with another: the presented side and the stored side must share it.
const digestKey = processHmacKey();

/** The stored Client secret as it is compared. */
export function comparableStoredSecret(stored: string): string {
  return stored.replace(/[\r\n]+$/, '').normalize('NFC');
}

/**
 * The longest presented secret that is compared, in UTF-16 code units. NFC normalization takes time quadratic in a
 * run of combining marks (about 17 ms for a 16 KB header of them), and a request pays it before the guess limiter
 * can tell a new guess from a retry; a longer secret is refused without being normalized. Client secrets are a few
 * dozen characters; a stored one over the limit is pointed out in the log (`storedSecretOddities`).
 */
export const MAX_PRESENTED_SECRET_LENGTH = 1024;

/** The presented Basic-auth password as it is compared. ASCII is its own NFC: most secrets skip the normalizer. */
export function comparablePresentedSecret(presented: string): string {
  // eslint-disable-next-line no-control-regex -- every ASCII code point, control characters included
  return /^[\x00-\x7f]*$/.test(presented) ? presented : presented.normalize('NFC');
}

/**
 * The keyed digest a secret is compared and remembered by: HMAC-SHA-256, with a key that lives and dies with this
 * process, of `<client id>\0<comparable secret>` (32 bytes). Bound to the Client, so the same wrong secret tried
 * against two Clients counts as two guesses where the limiter counts per address.
 */
export function secretDigest(clientId: string, comparable: string): Buffer {
  return crypto.createHmac('sha256', digestKey).update(`${clientId}\0${comparable}`, 'utf8').digest();
}

/** Whether two `secretDigest`s are equal, in time that does not depend on where they differ. */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/**
 * A stored secret as it is compared: `value` (comparableStoredSecret of what is stored) and, made once per Client
 * that uses it, its `secretDigest`. It lives as long as whatever holds the stored value (the Vault-held secrets'
 * cache entry, the file reader's current value), so a rotated or forgotten value takes its digests with it.
 */
export class ComparableSecret {
  readonly value: string;
  private readonly digests = new Map<string, Buffer>();

  constructor(stored: string) {
    this.value = comparableStoredSecret(stored);
  }

  /** The `secretDigest` of `value` for `clientId` (a file secret may serve several Clients). */
  digestFor(clientId: string): Buffer {
    let digest = this.digests.get(clientId);
    if (digest === undefined) {
      digest = secretDigest(clientId, this.value);
      if (this.digests.size >= 64) this.digests.clear();
      this.digests.set(clientId, digest);
    }
    return digest;
  }
}

/**
 * What about a stored value looks like an accident rather than a choice, in words fit for a log line (never
 * the value): e.g. `["trailing CR/LF (ignored)", "a byte order mark at the start (kept)"]`. Empty when none.
 */
export function storedSecretOddities(stored: string): string[] {
  const found: string[] = [];
  if (stored.startsWith('\uFEFF')) found.push('a byte order mark at the start (kept)');
  if (/^[\s\uFEFF]*$/.test(stored)) return [...found, 'only whitespace'];
  if (/^(?!\uFEFF)\s/.test(stored)) found.push('leading whitespace (kept)');
  if (/[\r\n]+$/.test(stored)) found.push('trailing CR/LF (ignored)');
  if (/[^\S\r\n]+[\r\n]*$/.test(stored)) found.push('trailing whitespace other than CR/LF (kept)');
  if (/[\r\n]/.test(stored.replace(/[\r\n]+$/, ''))) found.push('CR/LF inside the value (kept)');
  if (comparableStoredSecret(stored).length > MAX_PRESENTED_SECRET_LENGTH)
    found.push(`longer than ${MAX_PRESENTED_SECRET_LENGTH} characters (no password that long is compared)`);
  return found;
}
