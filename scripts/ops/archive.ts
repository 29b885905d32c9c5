/**
 * The backup archive: one file, `aurora-backup-<UTC timestamp>.tar.gz` (or `.tar.gz.enc` when encrypted),
 * mode 0600. Inside, flat:
 *   manifest.json    format, creation time, source, storage, pause, and the sha256 + size of every part below
 *   vault-data.tar   file storage (make prod-local, make native): Vault's storage dir, paths relative to its root
 *   vault-raft.snap  Raft storage (make prod-local-ha): `vault operator raft snapshot save` output, instead
 *   init.json        vault-init's init material: THE UNSEAL KEYS AND THE ROOT TOKEN
 *   postgres.sql     pg_dump --no-owner --no-acl of the app's database (plain SQL)
 *
 * Encryption is openssl's, never ours: `openssl enc -aes-256-cbc -pbkdf2 -iter 200000 -salt` over the whole
 * .tar.gz, passphrase from BACKUP_PASSPHRASE (passed to openssl through its environment, never argv) or
 * BACKUP_PASSPHRASE_FILE (openssl reads its first line). Verification never trusts the archive: it is
 * decrypted and unpacked into a private temp dir, its member list must be exactly the four names above,
 * and every part must match the manifest's sha256 and size, before anything of a stack is touched.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

export const FORMAT = 'aurora-backup/1';
/** Vault's storage backend, as sys/seal-status names it: it decides how Vault's part is taken and restored. */
export type Storage = 'file' | 'raft';
export const VAULT_PART = { file: 'vault-data.tar', raft: 'vault-raft.snap' } as const;
export type PartName = (typeof VAULT_PART)[Storage] | 'init.json' | 'postgres.sql';

export function partsFor(storage: Storage): PartName[] {
  return [VAULT_PART[storage], 'init.json', 'postgres.sql'];
}
const membersFor = (storage: Storage): string[] => ['manifest.json', ...partsFor(storage)].sort();

export interface PartInfo {
  sha256: string;
  bytes: number;
}

export interface Manifest {
  format: typeof FORMAT;
  created_at: string;
  /** native or compose: where the backup was taken. */
  source: string;
  /** Vault's storage: file (absent in archives of the first version) or raft. */
  storage?: Storage;
  vault_version?: string;
  /** File storage: how long Vault was stopped (writes paused), in ms, and until it was unsealed again. */
  pause_ms?: number;
  /** Raft storage: how long the app's credential writes waited for the cut (Vault never stopped), in ms. */
  writes_held_ms?: number;
  parts: Partial<Record<PartName, PartInfo>>;
  /** A reminder for whoever finds the file. */
  warning: string;
}

export const WARNING =
  'This archive holds the Vault unseal keys and root token (init.json) next to all secrets: whoever has it has everything. Keep it encrypted (BACKUP_PASSPHRASE) and offline.';

/** A backup failure with a message for the user; never carries a secret. */
export class BackupError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

export interface Passphrase {
  /** The passphrase itself (BACKUP_PASSPHRASE). */
  value?: string;
  /** A file whose first line is the passphrase (BACKUP_PASSPHRASE_FILE). */
  file?: string;
}

/** The passphrase the environment gives, or undefined (no encryption). */
export function passphraseFromEnv(env: NodeJS.ProcessEnv = process.env): Passphrase | undefined {
  const value = env.BACKUP_PASSPHRASE;
  const file = env.BACKUP_PASSPHRASE_FILE;
  if (value && file) throw new BackupError('Set BACKUP_PASSPHRASE or BACKUP_PASSPHRASE_FILE, not both.', 2);
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new BackupError(
        `BACKUP_PASSPHRASE_FILE=${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}.`,
        2,
      );
    }
    if (!text.split('\n')[0])
      throw new BackupError(
        `BACKUP_PASSPHRASE_FILE=${file}: its first line is empty (openssl uses the first line as the passphrase).`,
        2,
      );
    return { file: path.resolve(file) };
  }
  if (value !== undefined && value.length > 0) {
    if (value.length < 8)
      throw new BackupError(
        'BACKUP_PASSPHRASE is shorter than 8 characters; use a long passphrase (e.g. `openssl rand -base64 32`).',
        2,
      );
    return { value };
  }
  return undefined;
}

export function sha256File(file: string): PartInfo {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  let bytes = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Runs a tool; returns its stderr on failure (tools like tar and openssl never print file contents there). */
function tool(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { ok: boolean; stderr: string } {
  const res = spawnSync(cmd, args, { encoding: 'utf8', env: env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
  if (res.error) throw new BackupError(`${cmd} could not run: ${res.error.message}`);
  return { ok: res.status === 0, stderr: (res.stderr ?? '').trim() };
}

function opensslPassArgs(pass: Passphrase): { args: string[]; env: NodeJS.ProcessEnv } {
  if (pass.file) return { args: ['-pass', `file:${pass.file}`], env: process.env };
  return {
    args: ['-pass', 'env:AURORA_BACKUP_PASSPHRASE'],
    env: { ...process.env, AURORA_BACKUP_PASSPHRASE: pass.value ?? '' },
  };
}

const OPENSSL_ENC = ['enc', '-aes-256-cbc', '-pbkdf2', '-iter', '200000', '-md', 'sha256'];

/** A private working dir (0700) next to `near` (same file system as the final archive). */
export function workDir(near: string, prefix: string): string {
  fs.mkdirSync(near, { recursive: true, mode: 0o700 });
  const dir = fs.mkdtempSync(path.join(near, `.${prefix}-`));
  fs.chmodSync(dir, 0o700);
  return dir;
}

export function timestamp(d = new Date()): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/**
 * Packs `staging` (which holds the three parts) with a manifest into `<outDir>/aurora-backup-<ts>.tar.gz[.enc]`,
 * written to a .partial file (0600) and renamed into place only when complete.
 */
export function packArchive(
  staging: string,
  outDir: string,
  meta: Omit<Manifest, 'format' | 'parts' | 'warning'> & { storage: Storage },
  pass?: Passphrase,
): { file: string; manifest: Manifest } {
  const parts: Manifest['parts'] = {};
  for (const name of partsFor(meta.storage)) {
    if (!fs.existsSync(path.join(staging, name)))
      throw new BackupError(`internal: part ${name} is missing from the staging dir`);
    parts[name] = sha256File(path.join(staging, name));
  }
  const manifest: Manifest = { format: FORMAT, ...meta, parts, warning: WARNING };
  fs.writeFileSync(path.join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });

  fs.mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const base = `aurora-backup-${timestamp(new Date(meta.created_at))}.tar.gz${pass ? '.enc' : ''}`;
  let file = path.join(outDir, base);
  for (let i = 1; fs.existsSync(file); i++) file = path.join(outDir, base.replace('.tar.gz', `-${i}.tar.gz`));
  const partial = `${file}.partial`;
  const tarGz = pass ? path.join(staging, 'outer.tar.gz') : partial;
  // Created first with 0600, so the archive is never readable by others, not even for a moment.
  fs.writeFileSync(tarGz, '', { mode: 0o600 });
  try {
    const t = tool('tar', [
      '-czf',
      tarGz,
      '-C',
      staging,
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      ...membersFor(meta.storage),
    ]);
    if (!t.ok) throw new BackupError(`tar failed: ${t.stderr}`);
    if (pass) {
      fs.writeFileSync(partial, '', { mode: 0o600 });
      const { args, env } = opensslPassArgs(pass);
      const o = tool('openssl', [...OPENSSL_ENC, '-salt', '-e', '-in', tarGz, '-out', partial, ...args], env);
      if (!o.ok) throw new BackupError(`openssl could not encrypt the archive: ${o.stderr}`);
      fs.rmSync(tarGz, { force: true });
    }
    fs.chmodSync(partial, 0o600);
    const fd = fs.openSync(partial, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(partial, file);
  } catch (err) {
    fs.rmSync(partial, { force: true });
    throw err;
  }
  return { file, manifest };
}

export interface VerifiedArchive {
  /** Private dir holding the verified parts; the caller removes it. */
  dir: string;
  manifest: Manifest;
  /** Which Vault part the archive holds (and so which stacks it can go back to). */
  storage: Storage;
  encrypted: boolean;
  part(name: PartName): string;
}

function isEncrypted(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(8);
  try {
    fs.readSync(fd, head, 0, 8, 0);
  } finally {
    fs.closeSync(fd);
  }
  return head.toString('latin1') === 'Salted__';
}

/**
 * Decrypts (if need be), unpacks and checks an archive in a private temp dir under `scratch`. Throws a
 * BackupError that says what is wrong and that nothing was touched; never returns a half-checked archive.
 */
export function verifyArchive(file: string, scratch: string, pass?: Passphrase): VerifiedArchive {
  const refuse = (why: string): never => {
    throw new BackupError(`Refusing ${file}: ${why}. Nothing was changed.`);
  };
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return refuse('no such file');
  }
  if (!st.isFile()) refuse('not a regular file');
  if (st.size < 64) refuse(`it is only ${st.size} bytes: truncated or not a backup`);

  const dir = workDir(scratch, 'restore-verify');
  try {
    const encrypted = isEncrypted(file);
    let tarGz = file;
    if (encrypted) {
      if (!pass) refuse('it is encrypted (openssl), and neither BACKUP_PASSPHRASE nor BACKUP_PASSPHRASE_FILE is set');
      tarGz = path.join(dir, 'outer.tar.gz');
      fs.writeFileSync(tarGz, '', { mode: 0o600 });
      const { args, env } = opensslPassArgs(pass!);
      const o = tool('openssl', [...OPENSSL_ENC, '-d', '-in', file, '-out', tarGz, ...args], env);
      if (!o.ok) refuse('it cannot be decrypted: wrong passphrase, or the archive is corrupt or truncated');
    }
    // The whole gzip stream, trailer CRC included: tar stops reading at its end-of-archive blocks, so a
    // damaged byte could otherwise slip past gzip and only surface later, or not at all.
    const whole = tool('gzip', ['-t', tarGz]);
    const list = whole.ok
      ? spawnSync('tar', ['-tzf', tarGz], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      : { status: 1, stdout: '' };
    if (list.status !== 0)
      refuse(
        encrypted
          ? 'it decrypts, but what comes out is not a complete gzip/tar: wrong passphrase, or corrupt or truncated'
          : 'it is not a complete gzip/tar archive (corrupt or truncated)',
      );
    const members = list.stdout.split('\n').filter(Boolean).sort();
    const storage = (['file', 'raft'] as const).find((s) => JSON.stringify(members) === JSON.stringify(membersFor(s)));
    if (!storage)
      return refuse(
        `its contents are not an aurora backup (expected exactly ${membersFor('file').join(', ')}; or ${VAULT_PART.raft} in place of ${VAULT_PART.file})`,
      );
    const partsDir = path.join(dir, 'parts');
    fs.mkdirSync(partsDir, { mode: 0o700 });
    const x = tool('tar', [
      '-xzf',
      tarGz,
      '-C',
      partsDir,
      '--no-same-owner',
      '--no-same-permissions',
      ...membersFor(storage),
    ]);
    if (!x.ok) refuse('it cannot be unpacked (corrupt or truncated)');
    if (encrypted) fs.rmSync(tarGz, { force: true });

    let manifest: Manifest;
    try {
      manifest = JSON.parse(fs.readFileSync(path.join(partsDir, 'manifest.json'), 'utf8')) as Manifest;
    } catch {
      return refuse('its manifest.json is not valid JSON');
    }
    if (manifest?.format !== FORMAT)
      refuse(`its manifest says format ${JSON.stringify(manifest?.format)}, this tool reads ${FORMAT}`);
    if ((manifest.storage ?? 'file') !== storage)
      refuse(`its manifest says ${manifest.storage ?? 'file'} storage, but it holds ${VAULT_PART[storage]}`);
    for (const name of partsFor(storage)) {
      const want = manifest.parts?.[name];
      if (!want || typeof want.sha256 !== 'string') refuse(`its manifest has no checksum for ${name}`);
      const got = sha256File(path.join(partsDir, name));
      if (got.bytes !== want!.bytes)
        refuse(`${name} is ${got.bytes} bytes, the manifest says ${want!.bytes} (truncated or altered)`);
      if (got.sha256 !== want!.sha256) refuse(`${name} does not match its sha256 in the manifest (corrupt or altered)`);
    }
    if (storage === 'file') {
      const inner = spawnSync('tar', ['-tf', path.join(partsDir, VAULT_PART.file)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (inner.status !== 0) refuse(`${VAULT_PART.file} is not a valid tar`);
      if (inner.stdout.split('\n').some((m) => m.startsWith('/') || m.split('/').includes('..')))
        refuse(`${VAULT_PART.file} holds paths outside the storage dir`);
    }
    // A Raft snapshot is Vault's own gzip'd tar (meta.json, state.bin, SHA256SUMS): Vault checks its sums on restore.
    try {
      const init = JSON.parse(fs.readFileSync(path.join(partsDir, 'init.json'), 'utf8')) as { keys_base64?: unknown };
      if (!Array.isArray(init.keys_base64) || init.keys_base64.length === 0) refuse('init.json holds no unseal keys');
    } catch (err) {
      if (err instanceof BackupError) throw err;
      refuse('init.json is not valid JSON');
    }
    return { dir, manifest, storage, encrypted, part: (name) => path.join(partsDir, name) };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
