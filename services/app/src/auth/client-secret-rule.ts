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

/** The presented Basic-auth password as it is compared. */
export function comparablePresentedSecret(presented: string): string {
  return presented.normalize('NFC');
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
  return found;
}
