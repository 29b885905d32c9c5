/**
 * The few unauthenticated Vault calls operations need (seal status, unseal, generate-root), over fetch,
 * with no dependency: vault-init can copy generateRootToken() as is for its in-container `dist/root-token.js`.
 * Errors name the endpoint and the status, never a key, a nonce's use or a token.
 */
import fs from 'node:fs';

export interface SealStatus { initialized: boolean; sealed: boolean; t: number; n: number; progress: number; version: string }

export interface InitMaterial { keys_base64: string[]; keys?: string[]; root_token?: string; threshold?: number; shares?: number }

async function call<T>(addr: string, method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${addr}/v1/${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new Error(`Vault at ${addr} is unreachable (${method} ${path}): ${(err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let errors = '';
    try { errors = ((JSON.parse(text) as { errors?: string[] }).errors ?? []).join('; '); } catch { /* not JSON */ }
    throw new Error(`Vault answered ${res.status} to ${method} ${path}${errors ? `: ${errors}` : ''}`);
  }
  return (text ? JSON.parse(text) : {}) as T;
}

export function sealStatus(addr: string): Promise<SealStatus> {
  return call<SealStatus>(addr, 'GET', 'sys/seal-status', undefined, 3000);
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) { last = err; }
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? ` (last: ${(last as Error).message ?? String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits until Vault answers and is unsealed. */
export function waitUnsealed(addr: string, timeoutMs: number): Promise<SealStatus> {
  return waitFor(`Vault at ${addr} to be unsealed`, async () => {
    const s = await sealStatus(addr);
    return s.initialized && !s.sealed ? s : undefined;
  }, timeoutMs);
}

export function readInitMaterial(text: string, where: string): InitMaterial {
  let parsed: InitMaterial;
  try { parsed = JSON.parse(text) as InitMaterial; } catch { throw new Error(`${where} is not valid JSON (${text.length} bytes)`); }
  if (!Array.isArray(parsed?.keys_base64) || parsed.keys_base64.length === 0 || !parsed.keys_base64.every((k) => typeof k === 'string')) {
    throw new Error(`${where} holds no unseal keys ("keys_base64")`);
  }
  return parsed;
}

export function readInitFile(file: string): InitMaterial {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (err) {
    throw new Error(`cannot read the init material ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return readInitMaterial(text, file);
}

/** Unseals with the keys of `material` (what vault-init does; used where no vault-init watches). */
export async function unsealWith(addr: string, material: InitMaterial): Promise<void> {
  let status = await sealStatus(addr);
  for (const key of material.keys_base64) {
    if (!status.sealed) return;
    status = await call<SealStatus>(addr, 'POST', 'sys/unseal', { key });
  }
  if (status.sealed) throw new Error(`Vault at ${addr} is still sealed after all ${material.keys_base64.length} keys of the init material: they do not belong to this Vault`);
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
  if (bytes.length !== pad.length) throw new Error(`generate-root: the encoded token is ${bytes.length} bytes, the OTP ${pad.length}: they must be equal`);
  const out = Buffer.alloc(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! ^ pad[i]!;
  return out.toString('utf8');
}

export interface GenerateRootResult { token: string; cancelledPrevious: boolean; keysUsed: number }

/**
 * `vault operator generate-root` over the API: start an attempt (Vault makes the OTP), give unseal keys
 * until the threshold is reached, decode the encoded token with the OTP. An attempt already in progress is
 * cancelled first (it cannot be finished without its OTP anyway); ours is cancelled if anything fails.
 */
export async function generateRootToken(addr: string, material: InitMaterial): Promise<GenerateRootResult> {
  const seal = await sealStatus(addr);
  if (!seal.initialized) throw new Error(`Vault at ${addr} is not initialized`);
  if (seal.sealed) throw new Error(`Vault at ${addr} is sealed: unseal it first (vault-init does that in the stack)`);
  let cancelledPrevious = false;
  const current = await call<GenerateRootStatus>(addr, 'GET', 'sys/generate-root/attempt');
  if (current.started) {
    await call(addr, 'DELETE', 'sys/generate-root/attempt');
    cancelledPrevious = true;
  }
  const attempt = await call<GenerateRootStatus>(addr, 'PUT', 'sys/generate-root/attempt', {});
  try {
    if (!attempt.otp || !attempt.nonce) throw new Error('generate-root: Vault did not return an OTP and a nonce for the attempt');
    let status = attempt;
    let keysUsed = 0;
    for (const key of material.keys_base64) {
      if (status.complete) break;
      status = await call<GenerateRootStatus>(addr, 'PUT', 'sys/generate-root/update', { key, nonce: attempt.nonce });
      keysUsed++;
    }
    const encoded = status.encoded_token || status.encoded_root_token;
    if (!status.complete || !encoded) {
      throw new Error(keysUsed < status.required
        ? `generate-root: the init material holds ${keysUsed} unseal key(s), this Vault needs ${status.required}: it is incomplete, or from another Vault`
        : `generate-root: the ${keysUsed} unseal key(s) of the init material did not complete the attempt: they do not belong to this Vault`);
    }
    return { token: decodeRootToken(encoded, attempt.otp), cancelledPrevious, keysUsed };
  } catch (err) {
    await call(addr, 'DELETE', 'sys/generate-root/attempt').catch(() => undefined);
    throw err;
  }
}
