/**
 * Vault's generate-root flow (`vault operator generate-root`, sys/generate-root/*): a fresh root token from the
 * unseal keys, without the original one. The token is registered with the redacting logger the moment it exists;
 * errors name the endpoint and the status, never a key, the OTP or a token.
 */
import { AuroraError, VaultRequestError } from '../errors.js';
import { registerSecret } from '../logger.js';
import type { VaultClient } from '../vault-client.js';

/** sys/generate-root/attempt and sys/generate-root/update answer with this. */
export interface GenerateRootStatus {
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

export interface GenerateRootResult {
  /** A root token without a TTL: revoke it after use. */
  token: string;
  /** An unfinished attempt someone else had started was cancelled first. */
  cancelledPrevious: boolean;
  /** Unseal keys given until the attempt completed. */
  keysUsed: number;
}

/** The unseal keys could not generate a root token: too few, or not this Vault's. */
export class GenerateRootKeysError extends AuroraError {
  constructor(message: string, cause?: unknown) {
    super('vault_generate_root_keys', 502, message, { cause });
  }
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

/** The sys/generate-root endpoints (unauthenticated), and the whole flow over them. */
export class GenerateRootApi {
  constructor(private readonly client: VaultClient) {}

  /** The attempt in progress, if any (`started`). */
  status(): Promise<GenerateRootStatus> {
    return this.client.read<GenerateRootStatus>('sys/generate-root/attempt');
  }

  /** Starts an attempt; Vault makes the OTP and answers it once, here. */
  start(): Promise<GenerateRootStatus> {
    return this.client.write<GenerateRootStatus>('sys/generate-root/attempt', {});
  }

  /** Gives one unseal key (base64) to the attempt `nonce`. */
  update(key: string, nonce: string): Promise<GenerateRootStatus> {
    return this.client.write<GenerateRootStatus>('sys/generate-root/update', { key, nonce });
  }

  /** Cancels the attempt in progress (nothing happens when there is none). */
  async cancel(): Promise<void> {
    await this.client.delete('sys/generate-root/attempt');
  }

  /**
   * Starts an attempt, gives unseal keys until the threshold is reached, decodes the encoded token with the OTP.
   * An attempt already in progress is cancelled first (it cannot be finished without its OTP anyway); ours is
   * cancelled if anything fails. Throws GenerateRootKeysError when the keys are too few or not this Vault's.
   */
  async rootToken(keysBase64: readonly string[]): Promise<GenerateRootResult> {
    const addr = this.client.addr;
    const seal = await this.client.sealStatus();
    if (!seal.initialized) throw new Error(`Vault at ${addr} is not initialized`);
    if (seal.sealed) throw new Error(`Vault at ${addr} is sealed: unseal it first (vault-init does that in the stack)`);
    let cancelledPrevious = false;
    if ((await this.status()).started) {
      await this.cancel();
      cancelledPrevious = true;
    }
    const attempt = await this.start();
    try {
      if (!attempt.otp || !attempt.nonce)
        throw new Error('generate-root: Vault did not return an OTP and a nonce for the attempt');
      let status = attempt;
      let keysUsed = 0;
      for (const key of keysBase64) {
        if (status.complete) break;
        try {
          status = await this.update(key, attempt.nonce);
        } catch (err) {
          // 4xx: Vault refused the key itself (malformed, or the combined keys are not its root key).
          if (err instanceof VaultRequestError && err.vaultStatus >= 400 && err.vaultStatus < 500) {
            throw new GenerateRootKeysError(
              `generate-root: Vault refused the unseal keys of the init material (${err.message.replace(/\s+/g, ' ')}): they do not belong to this Vault`,
              err,
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
      const token = decodeRootToken(encoded, attempt.otp);
      registerSecret(token);
      return { token, cancelledPrevious, keysUsed };
    } catch (err) {
      await this.cancel().catch(() => undefined);
      throw err;
    }
  }
}
