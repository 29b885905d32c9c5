/**
 * The file backend of the init store (compose, native): `<VAULT_INIT_DIR>/init.json`, written crash-safe
 * (temp file, fsync, rename, fsync dir), mode 0600.
 */
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { EXIT, FilesystemError, InitMaterialError, InitMaterialNotSavedError, fsReason } from '../errors.js';
import { ensureDir, readIfExists, writeFileAtomic } from '../fs-atomic.js';
import { parseInitMaterial, registerInitMaterial, type InitMaterial, type InitStore } from './index.js';

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
    return parseInitMaterial(text, this.file, `its init file ${this.file}`);
  }

  async write(material: InitMaterial): Promise<void> {
    registerInitMaterial(material);
    const text = `${JSON.stringify(material, null, 2)}\n`;
    try {
      await ensureDir(this.dir);
      const held = await readIfExists(this.file);
      // An earlier attempt got this far: saved.
      if (held === text) return;
      // Someone else's init material (another vault-init on this directory, a restore): never overwritten.
      if (held !== undefined)
        throw new InitMaterialNotSavedError(
          EXIT.filesystem,
          `Vault was just initialized but its keys could not be saved: ${this.file} appeared meanwhile with other init ` +
            'material, which vault-init did not overwrite. The new keys exist nowhere else, and never in this output ' +
            '(vault-init masks them): this Vault cannot be unsealed again. Keep that file if it belongs to another ' +
            'Vault, then `make prod-local-clean` (native: `make native-clean`) and start again.',
          `${this.file} holds other init material, which vault-init will not overwrite: if it is not this Vault's, ` +
            'move it elsewhere',
        );
      // Never over a file that appeared since the check above: that is someone else's, judged on the next attempt.
      await writeFileAtomic(this.file, text, { mode: 0o600, tmpFile: this.tmpFile, replace: false });
    } catch (err) {
      if (err instanceof InitMaterialNotSavedError) throw err;
      throw new InitMaterialNotSavedError(
        EXIT.filesystem,
        `Vault was just initialized but its keys could not be saved to ${this.file}: ${fsReason(err)}. ` +
          'They exist nowhere else, and never in this output (vault-init masks them): this Vault cannot be unsealed ' +
          'again. Fix the directory (it must be writable by vault-init), then `make prod-local-clean` (native: `make native-clean`) and start again.',
        `${fsReason(err)}${whatToFix(err, this.dir)}`,
        { cause: err },
      );
    }
  }
}

/** What an operator does about a failed write into `dir`, as a clause for the attempts' log lines. */
function whatToFix(err: unknown, dir: string): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'EACCES' || code === 'EPERM') return `; make ${dir} writable for vault-init`;
  if (code === 'EROFS') return `; ${dir} is on a read-only file system: mount it writable`;
  if (code === 'ENOSPC' || code === 'EDQUOT') return `; free space on the volume that holds ${dir}`;
  return '';
}
