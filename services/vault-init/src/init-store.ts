/**
 * Where the init material (unseal keys + root token) lives. Nothing else in vault-init touches the file:
 * swapping it for a KMS-wrapped store later is this one module.
 */
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { registerSecret, type InitResponse } from '@aurora/common';
import { FilesystemError, InitMaterialError, fsReason } from './errors.js';
import { ensureDir, readIfExists, writeFileAtomic } from './fs-atomic.js';

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

/** Masks every piece of init material in all later log output. */
export function registerInitMaterial(material: InitResponse): void {
  for (const k of material.keys ?? []) registerSecret(k);
  for (const k of material.keys_base64 ?? []) registerSecret(k);
  registerSecret(material.root_token);
}

export class FileInitStore implements InitStore {
  readonly file: string;
  /** A fixed name, so that a write interrupted between fsync and rename leaves something to point users at. */
  readonly tmpFile: string;

  constructor(readonly dir: string) {
    this.file = path.join(dir, 'init.json');
    this.tmpFile = path.join(dir, 'init.json.tmp');
  }

  get location(): string {
    return this.file;
  }

  async exists(): Promise<boolean> {
    try {
      await fs.stat(this.file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new FilesystemError(`cannot check ${this.file}: ${fsReason(err)}. Vault was NOT initialized.`, err);
    }
  }

  async preflight(): Promise<void> {
    try {
      await ensureDir(this.dir);
      await fs.access(this.dir, fsConstants.W_OK | fsConstants.X_OK);
    } catch (err) {
      throw new FilesystemError(
        `cannot write the init file into ${this.dir}: ${fsReason(err)}. Vault was NOT initialized. ` +
          `Make the directory writable for vault-init (uid ${process.getuid?.() ?? '?'}), or point VAULT_INIT_DIR elsewhere.`,
        err,
      );
    }
  }

  async read(): Promise<InitMaterial> {
    let text: string | undefined;
    try {
      text = await readIfExists(this.file);
    } catch (err) {
      throw new InitMaterialError(
        `Vault is initialized, but its init file ${this.file} cannot be read: ${fsReason(err)}.`,
        this.file,
        { cause: err },
      );
    }
    if (text === undefined) {
      const partial = await readIfExists(this.tmpFile).catch(() => undefined);
      const hint =
        partial !== undefined
          ? ` A leftover ${this.tmpFile} exists: vault-init was stopped while saving the keys. If it holds complete JSON, rename it to init.json (that is the restore).`
          : '';
      throw new InitMaterialError(
        `Vault is initialized, but its init file ${this.file} is missing: without the unseal keys in it this Vault cannot be unsealed.${hint}`,
        this.file,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // The parser's message quotes the content: never let it out.
      throw new InitMaterialError(
        `Vault is initialized, but its init file ${this.file} is corrupt (not valid JSON, ${text.length} bytes).`,
        this.file,
      );
    }
    const problem = invalidMaterial(parsed);
    if (problem)
      throw new InitMaterialError(
        `Vault is initialized, but its init file ${this.file} is corrupt: ${problem}.`,
        this.file,
      );
    const material = parsed as InitMaterial;
    registerInitMaterial(material);
    return material;
  }

  async write(material: InitMaterial): Promise<void> {
    registerInitMaterial(material);
    try {
      await ensureDir(this.dir);
      await writeFileAtomic(this.file, `${JSON.stringify(material, null, 2)}\n`, {
        mode: 0o600,
        tmpFile: this.tmpFile,
      });
    } catch (err) {
      throw new FilesystemError(
        `Vault was just initialized but its keys could not be saved to ${this.file}: ${fsReason(err)}. ` +
          'They exist nowhere else: fix the directory (it must be writable by vault-init) and keep this process output; ' +
          'otherwise `make prod-local-clean` is the only way out.',
        err,
      );
    }
  }
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
