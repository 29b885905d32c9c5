/**
 * Where the init material (unseal keys + root token) lives, behind one small interface. Nothing else in
 * vault-init touches it. Backends, one file each: `file` (compose, native: init.json on a volume) and
 * `kubernetes-secret` (one Secret, read and updated by name). A KMS-wrapped store later is one more backend.
 */
import { registerSecret, type InitResponse } from '@aurora/common';
import type { VaultInitConfig } from '../config.js';
import { InitMaterialError } from '../errors.js';
import { FileInitStore } from './file.js';
import { KubernetesSecretInitStore } from './kubernetes-secret.js';

export interface InitMaterial extends InitResponse {
  shares: number;
  threshold: number;
  initialized_at: string;
}

export interface InitStore {
  /** Human-readable location, for messages. */
  readonly location: string;
  exists(): Promise<boolean>;
  /** Throws unless write() can succeed: checked before sys/init, since after it a failed write loses the keys. */
  preflight(): Promise<void>;
  /** Throws InitMaterialError (missing, unreadable, corrupt) with the ways out. */
  read(): Promise<InitMaterial>;
  /** Durable when it returns. */
  write(material: InitMaterial): Promise<void>;
}

/** The backend VAULT_INIT_STORE names: `file` in VAULT_INIT_DIR, or `kubernetes-secret` VAULT_INIT_SECRET. */
export function createInitStore(
  config: Pick<VaultInitConfig, 'initStore' | 'initDir' | 'initSecretName' | 'kubernetesNamespace'>,
): InitStore {
  if (config.initStore === 'kubernetes-secret')
    return new KubernetesSecretInitStore({ name: config.initSecretName, namespace: config.kubernetesNamespace });
  return new FileInitStore(config.initDir);
}

/** Masks every piece of init material in all later log output. */
export function registerInitMaterial(material: InitResponse): void {
  for (const k of material.keys ?? []) registerSecret(k);
  for (const k of material.keys_base64 ?? []) registerSecret(k);
  registerSecret(material.root_token);
}

/**
 * The init material in `text` read from `location`, registered with the redacting logger. `what` names it in
 * messages (default: the location).
 * @throws InitMaterialError when it is not JSON or not init material; the message never quotes the content
 */
export function parseInitMaterial(text: string, location: string, what = location): InitMaterial {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message quotes the content: never let it out.
    throw new InitMaterialError(
      `Vault is initialized, but ${what} is corrupt (not valid JSON, ${text.length} bytes).`,
      location,
    );
  }
  const problem = invalidMaterial(parsed);
  if (problem) throw new InitMaterialError(`Vault is initialized, but ${what} is corrupt: ${problem}.`, location);
  const material = parsed as InitMaterial;
  registerInitMaterial(material);
  return material;
}

/** What is wrong with a parsed init file, or undefined. Never quotes the content. */
export function invalidMaterial(value: unknown): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const m = value as Partial<Record<keyof InitMaterial, unknown>>;
  const isStringArray = (v: unknown): v is string[] =>
    Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x.length > 0);
  if (!isStringArray(m.keys_base64)) return '"keys_base64" is missing or not a list of keys';
  if (m.keys !== undefined && !isStringArray(m.keys)) return '"keys" is not a list of keys';
  if (typeof m.root_token !== 'string' || m.root_token.length === 0) return '"root_token" is missing';
  if (
    m.threshold !== undefined &&
    (typeof m.threshold !== 'number' || m.threshold < 1 || m.threshold > m.keys_base64.length)
  ) {
    return `"threshold" must be a number from 1 to the number of keys (${m.keys_base64.length})`;
  }
  return undefined;
}
