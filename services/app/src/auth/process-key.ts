/**
 * A random HMAC key that lives and dies with this process: for keyed digests that are only ever compared inside
 * it (client-secret-rule.ts: a presented secret against a stored one, and the limiter's memory of wrong secrets),
 * so they say nothing to anyone who sees them elsewhere.
 *
 * A KeyObject, not raw bytes: `crypto.createHmac` imports a raw key into a new KeyObject on every call, and on
 * Node 24 (the production images' Node) that import costs about five HMAC-SHA-256s of a short string (measured:
 * 25.6 µs per createHmac with a 32-byte Buffer key, 4.7 µs with a KeyObject; Node 20: 5.8 and 5.1 µs).
 * Authentication makes one such digest per request.
 */
import crypto from 'node:crypto';

/** A fresh 256-bit secret key for HMAC-SHA-256, as a KeyObject. */
export function processHmacKey(): crypto.KeyObject {
  return crypto.createSecretKey(crypto.randomBytes(32));
}
