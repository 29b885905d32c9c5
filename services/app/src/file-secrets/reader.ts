/**
 * Reads file-mounted secrets (rendered by the Vault agent, or mounted by the Kubernetes CSI driver) and
 * caches each value until its file changes.
 *
 * Change detection, so that a rotated secret is used without a restart, whatever the writer did:
 *  - the DIRECTORY of each file is watched, not the file: an atomic rename over the file and the Kubernetes
 *    `..data` symlink swap replace the directory entry, and a watch on the old file would never fire again.
 *    An event naming the file drops its cache entry at once; any other event in the directory (`..data`, temp
 *    files) makes us read each file there again (following the symlinks) and drop entries whose content changed;
 *  - a watch dies silently with its directory (removed and made again: a volume remounted, `rm -rf` + `mkdir`,
 *    `tar x`): no error event comes. So the watched directory's identity (device, inode, birth time) is compared
 *    with what it is now, every `rewatchMs` and before every revalidation; when it differs, the watch comes back
 *    on the new directory and its entries are dropped;
 *  - the safety net: a cached value older than `revalidateMs` is checked against the file's CONTENT (a sha256)
 *    before use. Size, modification time and even the inode number can all be the same after a change (an
 *    in-place overwrite with `cp --preserve=timestamps`, `rsync -a`, `tar x`, `docker cp`; an inode number
 *    reused after the old file was freed), and the change time's granularity depends on the kernel: only the
 *    content is sure. Secret files are small; reading one at most every `revalidateMs` costs nothing.
 * So a change is seen within `revalidateMs` in the worst case, within milliseconds on a live watch.
 * A missing file is not fatal: using it is an error that names the secret, never a value.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { AuroraError, registerSecret, type Logger } from '@aurora/common';
import type { FileSecretEntry, SecretsConfig } from './config.js';

/** The file behind a named secret is missing, empty or unreadable: a deployment problem, not the caller's. */
export class FileSecretUnavailableError extends AuroraError {
  readonly secretName: string;
  constructor(name: string, file: string, reason: string, cause?: unknown) {
    super(
      'file_secret_unavailable',
      503,
      `file secret ${name} is unavailable (${file}: ${reason}); the Vault agent renders it: is vault-agent running and does the secret exist in Vault?`,
      { cause, retryAfter: 2 },
    );
    this.secretName = name;
  }
}

interface CacheEntry {
  value: string;
  /** sha256 of the file's bytes when `value` was read. */
  digest: string;
  checkedAt: number;
}

/** What identifies a directory (not its content): another directory made at the same path differs. */
interface DirIdentity {
  dev: bigint;
  ino: bigint;
  birthtimeNs: bigint;
}

interface DirWatch {
  watcher: fs.FSWatcher;
  identity: DirIdentity;
}

export interface FileSecretsOptions {
  logger: Logger;
  /** Check a cached value with `stat` when it is older than this (default 500 ms). */
  revalidateMs?: number;
  /**
   * How often to check that each watched directory is still the one watched, and to retry watching a
   * directory that does not exist yet (default 1000 ms).
   */
  rewatchMs?: number;
}

const digestOf = (bytes: Buffer): string => crypto.createHash('sha256').update(bytes).digest('hex');

function identityOf(dir: string): DirIdentity | undefined {
  try {
    const st = fs.statSync(dir, { bigint: true });
    return st.isDirectory() ? { dev: st.dev, ino: st.ino, birthtimeNs: st.birthtimeNs } : undefined;
  } catch {
    return undefined;
  }
}

function sameIdentity(a: DirIdentity, b: DirIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.birthtimeNs === b.birthtimeNs;
}

export class FileSecrets {
  private readonly cache = new Map<string, CacheEntry>();
  /** Per secret name, the re-read of a cached value whose revalidation is due, while it runs. */
  private readonly revalidating = new Map<string, Promise<string>>();
  /** Bumped on every invalidation, so that a read that raced with a change does not cache a stale value. */
  private readonly generation = new Map<string, number>();
  private readonly watchers = new Map<string, DirWatch>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private identityTimer?: NodeJS.Timeout;
  private readonly byDir = new Map<string, FileSecretEntry[]>();
  private readonly revalidateMs: number;
  private readonly rewatchMs: number;
  private closed = false;

  constructor(
    readonly config: SecretsConfig,
    private readonly options: FileSecretsOptions,
  ) {
    this.revalidateMs = options.revalidateMs ?? 500;
    this.rewatchMs = options.rewatchMs ?? 1000;
    for (const entry of config.secrets.values()) {
      const dir = path.dirname(entry.path);
      const list = this.byDir.get(dir) ?? [];
      list.push(entry);
      this.byDir.set(dir, list);
    }
  }

  /** Starts watching every directory; reports (never throws) secrets whose file is missing now. */
  async start(): Promise<void> {
    for (const dir of this.byDir.keys()) this.watch(dir);
    if (this.byDir.size && !this.identityTimer) {
      this.identityTimer = setInterval(() => {
        for (const dir of this.watchers.keys()) this.checkDirectory(dir);
      }, this.rewatchMs);
      this.identityTimer.unref();
    }
    for (const entry of this.config.secrets.values()) {
      await fsp.access(entry.path, fs.constants.R_OK).catch((err: NodeJS.ErrnoException) => {
        this.options.logger.warn('file secret not readable yet; requests that need it fail until it appears', {
          ref: entry.name,
          file: entry.path,
          code: err.code,
        });
      });
    }
  }

  entry(name: string): FileSecretEntry | undefined {
    return this.config.secrets.get(name);
  }

  /**
   * The current content of the named secret's file, as stored: the comparison rule (auth/client-secret-rule.ts)
   * ignores a trailing run of CR/LF and names it in its one warning per value, as for a Vault-held secret. Throws
   * FileSecretUnavailableError when the file cannot be used (missing, unreadable, only CR/LF, "<no value>").
   */
  async read(name: string): Promise<string> {
    const entry = this.config.secrets.get(name);
    if (!entry) throw new AuroraError('unknown_file_secret', 500, `no file secret named ${name} in SECRETS_CONFIG`);
    const cached = this.cache.get(name);
    const now = Date.now();
    if (cached) {
      if (now - cached.checkedAt < this.revalidateMs) return cached.value;
      // One re-read per due revalidation, shared by the requests that find it due meanwhile. A request after an
      // invalidation finds no cached entry and loads afresh instead of joining it.
      const pending = this.revalidating.get(name);
      if (pending) return pending;
      const revalidation = this.revalidate(entry, cached, now).finally(() => {
        if (this.revalidating.get(name) === revalidation) this.revalidating.delete(name);
      });
      this.revalidating.set(name, revalidation);
      return revalidation;
    }
    return this.load(entry);
  }

  /** The cached value if the file still holds it (same digest, nothing invalidated meanwhile), else a fresh load. */
  private async revalidate(entry: FileSecretEntry, cached: CacheEntry, now: number): Promise<string> {
    const name = entry.name;
    this.checkDirectory(path.dirname(entry.path));
    const gen = this.generation.get(name) ?? 0;
    const digest = await fsp.readFile(entry.path).then(digestOf, () => undefined);
    if (digest === cached.digest && this.cache.get(name) === cached && (this.generation.get(name) ?? 0) === gen) {
      cached.checkedAt = now;
      return cached.value;
    }
    this.invalidate(name);
    return this.load(entry);
  }

  private async load(entry: FileSecretEntry): Promise<string> {
    const gen = this.generation.get(entry.name) ?? 0;
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(entry.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      const reason =
        code === 'ENOENT'
          ? 'no such file'
          : code === 'EACCES'
            ? 'permission denied'
            : code === 'EISDIR'
              ? 'is a directory'
              : code;
      this.options.logger.error('file secret unavailable', { ref: entry.name, file: entry.path, code });
      throw new FileSecretUnavailableError(entry.name, entry.path, reason, err);
    }
    // The agent and the CSI driver write the value as is; a trailing newline is an `echo` habit, not data: the
    // checks below look past it, and the content goes on as stored, for the comparison rule to judge.
    const text = bytes.toString('utf8');
    const value = text.replace(/[\r\n]+$/, '');
    if (value === '') {
      this.options.logger.error('file secret unavailable', { ref: entry.name, file: entry.path, code: 'EMPTY' });
      throw new FileSecretUnavailableError(entry.name, entry.path, 'empty file');
    }
    // What a Go template prints for a missing key (`{{ index .Data.data "k" }}`): a guessable, public string.
    if (value === '<no value>') {
      this.options.logger.error('file secret unavailable', { ref: entry.name, file: entry.path, code: 'NO_VALUE' });
      throw new FileSecretUnavailableError(
        entry.name,
        entry.path,
        'the template rendered "<no value>": the key is missing in Vault',
      );
    }
    registerSecret(value);
    // Cache only if nothing changed while we were reading; otherwise the next read loads it again.
    if ((this.generation.get(entry.name) ?? 0) === gen) {
      this.cache.set(entry.name, { value: text, digest: digestOf(bytes), checkedAt: Date.now() });
    }
    return text;
  }

  private invalidate(name: string): void {
    this.cache.delete(name);
    this.revalidating.delete(name);
    this.generation.set(name, (this.generation.get(name) ?? 0) + 1);
  }

  private watch(dir: string): void {
    if (this.closed || this.watchers.has(dir)) return;
    // The identity first: a directory replaced between the two is then seen as a change at the next check.
    const identity = identityOf(dir);
    let watcher: fs.FSWatcher;
    try {
      if (!identity) throw Object.assign(new Error('not a directory'), { code: 'ENOENT' });
      watcher = fs.watch(dir, { persistent: false }, (_event, filename) =>
        this.onEvent(dir, filename?.toString() ?? null),
      );
    } catch (err) {
      // Not there yet (the agent has not rendered anything): retry, and meanwhile rely on revalidation.
      this.options.logger.debug('cannot watch secrets directory yet', {
        dir,
        code: (err as NodeJS.ErrnoException).code,
      });
      this.retryWatch(dir);
      return;
    }
    watcher.on('error', () => this.rewatch(dir));
    this.watchers.set(dir, { watcher, identity });
    // Anything that changed before the watch started must not be served from the cache.
    for (const entry of this.byDir.get(dir) ?? []) this.invalidate(entry.name);
  }

  /** Drops the watch of `dir` and its cached values, and watches whatever is at that path now (or later). */
  private rewatch(dir: string): void {
    const current = this.watchers.get(dir);
    if (!current) return;
    current.watcher.close();
    this.watchers.delete(dir);
    for (const entry of this.byDir.get(dir) ?? []) this.invalidate(entry.name);
    this.options.logger.info('secrets directory replaced; watching the new one', { dir });
    this.watch(dir);
  }

  /** Is the watched `dir` still the directory at that path? If not, the watch comes back on the new one. */
  private checkDirectory(dir: string): void {
    const current = this.watchers.get(dir);
    if (!current) return;
    const now = identityOf(dir);
    if (!now || !sameIdentity(now, current.identity)) this.rewatch(dir);
  }

  private retryWatch(dir: string): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.watch(dir);
    }, this.rewatchMs);
    timer.unref();
    this.retryTimers.add(timer);
  }

  private onEvent(dir: string, filename: string | null): void {
    const entries = this.byDir.get(dir) ?? [];
    const direct = filename === null ? undefined : entries.find((e) => path.basename(e.path) === filename);
    if (direct) {
      this.invalidate(direct.name);
      return;
    }
    // The directory itself removed or renamed reports under its own name (or none): check it is still there.
    this.checkDirectory(dir);
    // `..data` swapped, a temp file renamed, or an event without a name: compare what each file holds now.
    for (const entry of entries) {
      const cached = this.cache.get(entry.name);
      if (!cached) continue;
      const gen = this.generation.get(entry.name) ?? 0;
      void fsp.readFile(entry.path).then(
        (bytes) => {
          if (digestOf(bytes) !== cached.digest && (this.generation.get(entry.name) ?? 0) === gen)
            this.invalidate(entry.name);
        },
        () => {
          if ((this.generation.get(entry.name) ?? 0) === gen) this.invalidate(entry.name);
        },
      );
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.watcher.close();
    if (this.identityTimer) clearInterval(this.identityTimer);
    this.watchers.clear();
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.cache.clear();
  }
}
