/**
 * Why vault-init stops, as exit codes a script can branch on (documented in docs/vault.md). Every message
 * says what happened and what to do; none ever holds a key or a token.
 */
export const EXIT = Object.freeze({
  ok: 0,
  unexpected: 1,
  config: 2,
  unreachable: 3,
  initMaterial: 4,
  conflict: 5,
  filesystem: 6,
});

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class VaultInitError extends Error {
  readonly exitCode: ExitCode;
  constructor(exitCode: ExitCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** The two ways out of every init-material problem; repeated verbatim so that users can search for them. */
export function waysOut(initFile: string): string {
  return [
    'Two ways out:',
    `  1. restore ${initFile} from your backup (the file that was written when this Vault was initialized), then restart vault-init;`,
    '  2. or start over with `make prod-local-clean` (native: `make native-clean`), which DESTROYS ALL SECRETS stored in this Vault.',
    'vault-init never re-initializes an initialized Vault and never deletes anything.',
  ].join('\n');
}

/** init.json is missing, unreadable, corrupt, from another Vault, or its keys/token are rejected. */
export class InitMaterialError extends VaultInitError {
  constructor(what: string, initFile: string, options?: { cause?: unknown }) {
    super(EXIT.initMaterial, `${what}\n${waysOut(initFile)}`, options);
  }
}

/** Vault holds an object vault-init would have to overwrite (e.g. a KV v1 engine at the KV mount). */
export class VaultObjectConflictError extends VaultInitError {
  constructor(message: string) {
    super(EXIT.conflict, message);
  }
}

/**
 * The keys Vault just returned could not be saved. The message says they are lost if vault-init stops now;
 * `reason` says only what went wrong and what to fix, for the attempts vault-init makes while it holds them.
 */
export class InitMaterialNotSavedError extends VaultInitError {
  constructor(
    exitCode: ExitCode,
    message: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(exitCode, message, options);
  }
}

export class FilesystemError extends VaultInitError {
  constructor(message: string, cause?: unknown) {
    super(EXIT.filesystem, message, { cause });
  }
}

/** Describes a Node file-system error without its stack: code and path are what the user needs. */
export function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EACCES' || e?.code === 'EPERM')
    return `permission denied (${e.code}; vault-init runs as uid ${process.getuid?.() ?? '?'})`;
  if (e?.code) return e.message.startsWith(e.code) ? e.message : `${e.code}: ${e.message}`;
  return String((err as Error)?.message ?? err);
}
