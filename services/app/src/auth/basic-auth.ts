/**
 * HTTP Basic authentication of API Clients: `Authorization: Basic base64(client_id:secret)`.
 *
 * Client (PostgreSQL, reused for CLIENT_CACHE_TTL_SECONDS: client-directory.ts) → its secret reference → file
 * secret (scope check, cached read) or Vault → compare in constant time. Unknown client, wrong secret, a secret
 * out of scope and an unusable secret all answer the same 401 with `WWW-Authenticate`; the log says which
 * (naming the scope or secret, never a value).
 * Guessing is slowed down by the guess limiter (limiter.ts): too many distinct wrong secrets for one client
 * id (or from one address, where addresses are real) answer 429 with Retry-After; retries of the same
 * secret and secrets the Client was accepted with are always compared. Both sides go through the one
 * comparison rule of client-secret-rule.ts.
 */
import type { Request, RequestHandler, Response } from 'express';
import { AuroraError, type Logger } from '@aurora/common';
import { identityOf, type CallerIdentity } from './client-identity.js';
import { SecretScopeError, type ClientSecrets } from './client-secrets.js';
import { FileSecretUnavailableError } from '../file-secrets/reader.js';
import { secretReferenceText } from '../fhir/secret-reference.js';
import { isResourceId } from '../fhir/resource-id.js';
import type { ClientDirectory } from './client-directory.js';
import type { GuessLimiter } from './limiter.js';
import {
  comparablePresentedSecret,
  MAX_PRESENTED_SECRET_LENGTH,
  sameDigest,
  secretDigest,
  type ComparableSecret,
} from './client-secret-rule.js';
import { countAuth } from '../telemetry/metrics.js';

export const REALM = 'aurora';

export interface Credentials {
  clientId: string;
  secret: string;
}

/** Parses the header; undefined when absent or not Basic. */
export function parseBasic(header: string | undefined): Credentials | undefined {
  if (!header) return undefined;
  const m = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { clientId: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

export type Outcome =
  { ok: true; caller: CallerIdentity } | { ok: false; reason: string; details?: Record<string, unknown> };

/** The presented side of a comparison: the Basic credentials' client id and its secret's `secretDigest`. */
export interface Presented {
  clientId: string;
  digest: Buffer;
}

/** The `secretDigest` of what the request presented (the comparable form of its secret). */
export function presentedOf(creds: Credentials): Presented {
  return { clientId: creds.clientId, digest: secretDigest(creds.clientId, comparablePresentedSecret(creds.secret)) };
}

export class Authenticator {
  constructor(
    private readonly clients: ClientDirectory,
    private readonly secrets: ClientSecrets,
  ) {}

  /**
   * Whether `presented` is the secret of the Client it names. An unknown Client costs the same digest as a known
   * one: the request made it before asking (the guess limiter needs it anyway).
   */
  async verify(presented: Presented): Promise<Outcome> {
    const { clientId } = presented;
    if (!isResourceId(clientId)) return { ok: false, reason: 'unknown client' };
    const resource = await this.clients.get(clientId);
    if (!resource) return { ok: false, reason: 'unknown client' };
    let text: string | undefined;
    try {
      text = secretReferenceText(resource);
    } catch {
      text = undefined;
    }
    if (text === undefined) return { ok: false, reason: 'Client has no usable _secret reference' };
    const expected = await this.expected(clientId, text);
    if (!expected.ok) return expected;
    let match = sameDigest(presented.digest, expected.value.digestFor(clientId));
    if (!match && text.startsWith('vault:') && this.secrets.rereadAfterMismatch(text)) {
      // Perhaps rotated in Vault since we cached it: read once more before refusing (rate-limited per reference).
      const again = await this.expected(clientId, text);
      if (!again.ok) return again;
      match = sameDigest(presented.digest, again.value.digestFor(clientId));
    }
    if (!match) return { ok: false, reason: 'wrong secret' };
    return { ok: true, caller: identityOf(clientId, resource.permissions) };
  }

  /** The value to compare with, or why there is none. Vault sealed/unreachable is thrown: a 503, not a 401. */
  private async expected(
    clientId: string,
    text: string,
  ): Promise<{ ok: true; value: ComparableSecret } | { ok: false; reason: string; details?: Record<string, unknown> }> {
    try {
      return { ok: true, value: await this.secrets.valueFor('Client', clientId, text) };
    } catch (err) {
      if (err instanceof SecretScopeError)
        return { ok: false, reason: 'secret out of scope', details: { ref: err.secretName, scope: err.scope } };
      if (err instanceof FileSecretUnavailableError)
        return { ok: false, reason: 'secret file unavailable', details: { ref: err.secretName } };
      if (err instanceof AuroraError && (err.code === 'vault_forbidden' || err.code === 'vault_not_found')) {
        return { ok: false, reason: `secret unavailable in Vault (${err.code})`, details: { ref: text } };
      }
      if (err instanceof AuroraError && err.status < 500)
        return { ok: false, reason: `secret reference unusable (${err.code})`, details: { ref: text } };
      throw err;
    }
  }
}

function unauthorized(res: Response, message: string): void {
  res.set('WWW-Authenticate', `Basic realm="${REALM}", charset="UTF-8"`);
  res.status(401).json({ error: 'unauthorized', message });
}

export interface BasicAuthOptions {
  limiter: GuessLimiter;
  logger: Logger;
  /**
   * Key the limits by the caller's address too. Only where the address is real: behind docker-proxy or a
   * port-forward every caller has the same one (AUTH_LIMIT_BY_ADDRESS).
   */
  limitByAddress: boolean;
}

/**
 * The caller's address: `req.ip`, which honours X-Forwarded-For only from AUTH_TRUSTED_PROXIES. Asked for only where
 * it is used (address-keyed limits, a log line): it walks the proxy chain each time.
 */
function address(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

export function basicAuth(authenticator: Authenticator, options: BasicAuthOptions): RequestHandler {
  const { limiter, logger } = options;
  return async (req, res, next) => {
    const creds = parseBasic(req.headers.authorization);
    if (!creds) {
      countAuth('missing');
      unauthorized(res, 'authentication required: HTTP Basic with client_id:secret (curl -u <client_id>:<secret>)');
      return;
    }
    if (creds.secret.length > MAX_PRESENTED_SECRET_LENGTH) {
      // Refused before anything costly: normalizing it could take long (client-secret-rule.ts says why).
      countAuth('wrong_secret');
      logger.warn('authentication failed', {
        client_id: creds.clientId,
        address: address(req),
        reason: `secret longer than ${MAX_PRESENTED_SECRET_LENGTH} characters`,
      });
      unauthorized(res, `invalid client id or secret: a secret is at most ${MAX_PRESENTED_SECRET_LENGTH} characters`);
      return;
    }
    const presented = presentedOf(creds);
    const admission = limiter.admit(
      creds.clientId,
      presented.digest,
      options.limitByAddress ? address(req) : undefined,
    );
    if (!admission.admitted) {
      const wait = admission.retryAfterSeconds;
      if (admission.firstRefusal) {
        logger.warn(
          'authentication refused: too many different wrong secrets; new ones wait (logged once per episode)',
          {
            client_id: creds.clientId,
            address: address(req),
            retry_after_seconds: wait,
          },
        );
      }
      countAuth('locked_out');
      res.set('Retry-After', String(wait));
      res.status(429).json({
        error: 'too_many_failures',
        message: `too many different wrong secrets for this client; a new secret is checked again in ${wait} s`,
      });
      return;
    }
    let outcome: Outcome;
    try {
      outcome = await authenticator.verify(presented);
    } catch (err) {
      // Not an answer about the secret (Vault sealed or unreachable): give the token back.
      limiter.release(admission.ticket);
      next(err);
      return;
    }
    limiter.settle(admission.ticket, outcome.ok);
    countAuth(outcome.ok ? 'ok' : outcome);
    if (!outcome.ok) {
      const message =
        outcome.reason === 'secret out of scope'
          ? `authentication failed: secret ${String(outcome.details?.ref)} is scoped to ${String(outcome.details?.scope)}, not Client/${creds.clientId}`
          : 'authentication failed';
      logger.warn(message, {
        client_id: creds.clientId,
        address: address(req),
        reason: outcome.reason,
        ...outcome.details,
      });
      unauthorized(res, 'invalid client id or secret');
      return;
    }
    res.locals.client = outcome.caller;
    next();
  };
}
