/**
 * Vault's generate-root flow (`vault operator generate-root`) over the API, with the unseal keys: a fresh
 * root token without the original one. vault-init uses it when VAULT_REVOKE_ROOT_TOKEN has revoked the token
 * in init.json, `dist/root-token.js` and `make root-token` (scripts/ops/vault-api.ts) print one on demand.
 *
 * Deliberately free of dependencies (fetch only, no @aurora/common): the repository's scripts import this
 * file directly, without a build. Errors name the endpoint and the status, never a key, the OTP or a token.
 */

/** What the flow needs from the init material. */
export interface UnsealKeys {
  keys_base64: string[];
}

/** Vault answered with an error status (`status`), or did not answer (`status` undefined). */
export class VaultHttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'VaultHttpError';
  }
}

/** The unseal keys could not generate a root token: too few, or not this Vault's. */
export class GenerateRootKeysError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GenerateRootKeysError';
  }
}

/** One unauthenticated (or `token`-authenticated) call to Vault's HTTP API. */
export async function vaultCall<T>(
  addr: string,
  method: string,
  path: string,
  body?: unknown,
  options: { timeoutMs?: number; token?: string } = {},
): Promise<T> {
  let res: Response;
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers['x-vault-token'] = options.token;
  try {
    res = await fetch(`${addr}/v1/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (err) {
    throw new VaultHttpError(`Vault at ${addr} is unreachable (${method} ${path}): ${(err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let errors = '';
    try {
      errors = ((JSON.parse(text) as { errors?: string[] }).errors ?? []).join('; ');
    } catch {
      /* not JSON */
    }
    throw new VaultHttpError(
      `Vault answered ${res.status} to ${method} ${path}${errors ? `: ${errors}` : ''}`,
      res.status,
    );
  }
  return (text ? JSON.parse(text) : {}) as T;
}

interface GenerateRootStatus {
  started: boolean;
  nonce: string;
  progress: number;
  required: number;
  complete: boolean;
  encoded_token?: string;
  encoded_root_token?: string;
  otp?: string;
  otp_length?: number;
}

/**
 * Vault's decoding (sdk/helper/roottoken/decode.go, DecodeToken with otpLength > 0): the encoded token is
 * base64 (standard alphabet, no padding) of token XOR otp, byte by byte, both of the same length.
 */
export function decodeRootToken(encoded: string, otp: string): string {
  const bytes = Buffer.from(encoded.replace(/=+$/, ''), 'base64');
  const pad = Buffer.from(otp, 'utf8');
  if (bytes.length !== pad.length)
    throw new Error(
      `generate-root: the encoded token is ${bytes.length} bytes, the OTP ${pad.length}: they must be equal`,
    );
  const out = Buffer.alloc(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! ^ pad[i]!;
  return out.toString('utf8');
}

export interface GenerateRootResult {
  token: string;
  cancelledPrevious: boolean;
  keysUsed: number;
}

/**
 * Start an attempt (Vault makes the OTP), give unseal keys until the threshold is reached, decode the encoded
 * token with the OTP. An attempt already in progress is cancelled first (it cannot be finished without its
 * OTP anyway); ours is cancelled if anything fails. The token is a root token without a TTL: revoke it after use.
 */
export async function generateRootToken(addr: string, material: UnsealKeys): Promise<GenerateRootResult> {
  const seal = await vaultCall<{ initialized: boolean; sealed: boolean }>(addr, 'GET', 'sys/seal-status', undefined, {
    timeoutMs: 3000,
  });
  if (!seal.initialized) throw new Error(`Vault at ${addr} is not initialized`);
  if (seal.sealed) throw new Error(`Vault at ${addr} is sealed: unseal it first (vault-init does that in the stack)`);
  let cancelledPrevious = false;
  const current = await vaultCall<GenerateRootStatus>(addr, 'GET', 'sys/generate-root/attempt');
  if (current.started) {
    await vaultCall(addr, 'DELETE', 'sys/generate-root/attempt');
    cancelledPrevious = true;
  }
  const attempt = await vaultCall<GenerateRootStatus>(addr, 'PUT', 'sys/generate-root/attempt', {});
  try {
    if (!attempt.otp || !attempt.nonce)
      throw new Error('generate-root: Vault did not return an OTP and a nonce for the attempt');
    let status = attempt;
    let keysUsed = 0;
    for (const key of material.keys_base64) {
      if (status.complete) break;
      try {
        status = await vaultCall<GenerateRootStatus>(addr, 'PUT', 'sys/generate-root/update', {
          key,
          nonce: attempt.nonce,
        });
      } catch (err) {
        // 4xx: Vault refused the key itself (malformed, or the combined keys are not its root key).
        if (err instanceof VaultHttpError && err.status !== undefined && err.status >= 400 && err.status < 500) {
          throw new GenerateRootKeysError(
            `generate-root: Vault refused the unseal keys of the init material (${err.message.replace(/\s+/g, ' ')}): they do not belong to this Vault`,
          );
        }
        throw err;
      }
      keysUsed++;
    }
    const encoded = status.encoded_token || status.encoded_root_token;
    if (!status.complete || !encoded) {
      throw new GenerateRootKeysError(
        keysUsed < status.required
          ? `generate-root: the init material holds ${keysUsed} unseal key(s), this Vault needs ${status.required}: it is incomplete, or from another Vault`
          : `generate-root: the ${keysUsed} unseal key(s) of the init material did not complete the attempt: they do not belong to this Vault`,
      );
    }
    return { token: decodeRootToken(encoded, attempt.otp), cancelledPrevious, keysUsed };
  } catch (err) {
    await vaultCall(addr, 'DELETE', 'sys/generate-root/attempt').catch(() => undefined);
    throw err;
  }
}
