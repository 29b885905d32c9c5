/**
 * Reads file-mounted secrets (rendered by the Vault agent, or mounted by the Kubernetes CSI driver) and
 * caches each value until its file changes.
 *
 * Change detection, so that a rotated secret is used on the next request without a restart:
 *  - the DIRECTORY of each file is watched, not the file: an atomic rename over the file and the Kubernetes
 *    `..data` symlink swap replace the directory entry, and a watch on the old file would never fire again;
 *  - an event naming the file drops its cache entry; any other event in the directory (`..data`, temp files)
 *    makes us `stat` (not `lstat`: follow the symlinks) each file there and drop entries whose mtime, inode
 *    or size differ from what we read;
 *  - as a safety net for missed events (and directories that do not exist yet), a cached value older than
 *    `revalidateMs` is checked with `stat` before use.
 * A missing file is not fatal: using it is an error that names the secret, never a value.
 */
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

interface Signature {
  mtimeNs: bigint;
  ino: bigint;
  size: bigint;
  dev: bigint;
}

interface CacheEntry {
  value: string;
  signature: Signature;
  checkedAt: number;
}

export interface FileSecretsOptions {
  logger: Logger;
  /** Check a cached value with `stat` when it is older than this (default 500 ms). */
  revalidateMs?: number;
  /** How often to retry watching a directory that does not exist yet (default 1000 ms). */
  rewatchMs?: number;
}

function sameSignature(a: Signature, b: Signature): boolean {
  return a.mtimeNs === b.mtimeNs && a.ino === b.ino && a.size === b.size && a.dev === b.dev;
}

async function signatureOf(file: string): Promise<Signature> {
  const st = await fsp.stat(file, { bigint: true });
  return { mtimeNs: st.mtimeNs, ino: st.ino, size: st.size, dev: st.dev };
}

export class FileSecrets {
  private readonly cache = new Map<string, CacheEntry>();
  /** Bumped on every invalidation, so that a read that raced with a change does not cache a stale value. */
  private readonly generation = new Map<string, number>();
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
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

  /** The current value of the named secret; throws FileSecretUnavailableError when the file cannot be used. */
  async read(name: string): Promise<string> {
    const entry = this.config.secrets.get(name);
    if (!entry) throw new AuroraError('unknown_file_secret', 500, `no file secret named ${name} in SECRETS_CONFIG`);
    const cached = this.cache.get(name);
    const now = Date.now();
    if (cached) {
      if (now - cached.checkedAt < this.revalidateMs) return cached.value;
      const current = await signatureOf(entry.path).catch(() => undefined);
      if (current && sameSignature(current, cached.signature)) {
        cached.checkedAt = now;
        return cached.value;
      }
      this.invalidate(name);
    }
    return this.load(entry);
  }

  private async load(entry: FileSecretEntry): Promise<string> {
    const gen = this.generation.get(entry.name) ?? 0;
    let signature: Signature;
    let text: string;
    try {
      signature = await signatureOf(entry.path);
      text = await fsp.readFile(entry.path, 'utf8');
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
    // The agent and the CSI driver write the value as is; a trailing newline is an `echo` habit, not data.
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
      this.cache.set(entry.name, { value, signature, checkedAt: Date.now() });
    }
    return value;
  }

  private invalidate(name: string): void {
    this.cache.delete(name);
    this.generation.set(name, (this.generation.get(name) ?? 0) + 1);
  }

  private watch(dir: string): void {
    if (this.closed || this.watchers.has(dir)) return;
    let watcher: fs.FSWatcher;
    try {
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
    watcher.on('error', () => {
      // The directory went away (volume remounted, dir replaced): watch it again when it is back.
      watcher.close();
      this.watchers.delete(dir);
      for (const entry of this.byDir.get(dir) ?? []) this.invalidate(entry.name);
      this.retryWatch(dir);
    });
    this.watchers.set(dir, watcher);
    // Anything that changed before the watch started must not be served from the cache.
    for (const entry of this.byDir.get(dir) ?? []) this.invalidate(entry.name);
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
    // `..data` swapped, a temp file renamed, or an event without a name: compare what stat sees now.
    for (const entry of entries) {
      const cached = this.cache.get(entry.name);
      if (!cached) continue;
      const gen = this.generation.get(entry.name) ?? 0;
      void signatureOf(entry.path).then(
        (sig) => {
          if (!sameSignature(sig, cached.signature) && (this.generation.get(entry.name) ?? 0) === gen)
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
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.cache.clear();
  }
}
