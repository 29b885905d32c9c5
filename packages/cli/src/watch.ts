/**
 * Watching the secrets a run resolved: every interval, each secret's current version (KV v2 metadata,
 * `<mount>/metadata/<path>`) is compared with the version the run is using. A change is reported once per new
 * version; the caller decides what to do (restart or signal the child). Identities that may read a secret
 * but not its metadata (the app's policy on secret/) are served by reading the secret itself, whose answer
 * carries the version too.
 */
import { VaultForbiddenError, type VaultClient } from '@aurora/common';

export interface WatchedSecret {
  mount: string;
  path: string;
  /** The version in use. */
  version: number;
  /** Variables that take a value from this secret, for log lines. */
  names: string[];
}

export interface SecretChange {
  mount: string;
  path: string;
  names: string[];
  from: number;
  to: number;
}

export interface WatchLog {
  warn(message: string): void;
}

export interface SecretWatcherOptions {
  client: () => VaultClient;
  intervalMs: number;
  /** Called with every secret whose version moved since the last call; the watcher waits for it to finish. */
  onChange: (changes: SecretChange[]) => Promise<void>;
  log: WatchLog;
}

/** Polls versions; start() once, stop() when done. Poll errors are logged once per kind, never thrown. */
export class SecretWatcher {
  private secrets = new Map<string, WatchedSecret>();
  /** Versions already reported, so that one rotation is one change even when handling it failed. */
  private reported = new Map<string, number>();
  private readonly metadataDenied = new Set<string>();
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private lastWarning = '';

  constructor(private readonly options: SecretWatcherOptions) {}

  /** Sets the secrets and versions in use (after each successful resolution). */
  use(secrets: readonly WatchedSecret[]): void {
    this.secrets = new Map(secrets.map((s) => [`${s.mount}/${s.path}`, s]));
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.options.intervalMs);
  }

  private async tick(): Promise<void> {
    try {
      const changes = await this.poll();
      if (changes.length && !this.stopped) await this.options.onChange(changes);
    } catch (err) {
      this.warnOnce(`watching secrets: ${(err as Error).message}`);
    }
    this.schedule();
  }

  /** Reads every watched secret's current version once; returns those that differ from the version in use. */
  async poll(): Promise<SecretChange[]> {
    const changes: SecretChange[] = [];
    const seen = await Promise.all(
      [...this.secrets.entries()].map(async ([id, s]) => [id, s, await this.currentVersion(id, s)] as const),
    );
    let problem = '';
    for (const [id, s, current] of seen) {
      if (current instanceof Error) {
        problem ||= `cannot read the version of ${s.mount}/${s.path} (${s.names.join(', ')}): ${current.message}`;
        continue;
      }
      if (current === s.version || current === this.reported.get(id)) continue;
      this.reported.set(id, current);
      changes.push({ mount: s.mount, path: s.path, names: s.names, from: s.version, to: current });
    }
    if (problem) this.warnOnce(problem);
    else this.lastWarning = '';
    return changes;
  }

  private async currentVersion(id: string, s: WatchedSecret): Promise<number | Error> {
    const client = this.options.client();
    try {
      if (!this.metadataDenied.has(id)) {
        try {
          return (await client.kvMetadata(s.mount, s.path)).current_version;
        } catch (err) {
          if (!(err instanceof VaultForbiddenError)) throw err;
          this.metadataDenied.add(id);
        }
      }
      return (await client.kvRead(s.mount, s.path)).version;
    } catch (err) {
      return err as Error;
    }
  }

  private warnOnce(message: string): void {
    if (message === this.lastWarning) return;
    this.lastWarning = message;
    this.options.log.warn(message);
  }
}

/** The secrets behind a list of resolved references, one entry per secret, with the variables using it. */
export function watchedSecrets(
  resolved: readonly { name: string; mount: string; path: string; version: number }[],
): WatchedSecret[] {
  const byId = new Map<string, WatchedSecret>();
  for (const r of resolved) {
    const id = `${r.mount}/${r.path}`;
    const s = byId.get(id) ?? { mount: r.mount, path: r.path, version: r.version, names: [] };
    s.names.push(r.name);
    byId.set(id, s);
  }
  return [...byId.values()];
}
