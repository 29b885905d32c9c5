/**
 * Error types that know their HTTP status and a message safe to show a user.
 * The HTTP layer maps them in one place; logs get `cause` chains, never secret values.
 */
import { stackCommands } from './stack-commands.js';

export class AuroraError extends Error {
  readonly status: number;
  readonly code: string;
  /** Seconds a client should wait before retrying (503s). */
  readonly retryAfter?: number;

  constructor(code: string, status: number, message: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}

/** Bad input: names the field and what is wrong with it. */
export class ValidationError extends AuroraError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('invalid_input', 400, `${field}: ${message}`);
    this.field = field;
  }
}

export class UnprocessableError extends AuroraError {
  constructor(message: string) {
    super('unprocessable', 422, message);
  }
}

export class NotFoundError extends AuroraError {
  constructor(message: string) {
    super('not_found', 404, message);
  }
}

export class ConflictError extends AuroraError {
  constructor(message: string) {
    super('conflict', 409, message);
  }
}

export class ForbiddenError extends AuroraError {
  constructor(message: string) {
    super('forbidden', 403, message);
  }
}

export class UnauthorizedError extends AuroraError {
  constructor(message = 'authentication required') {
    super('unauthorized', 401, message);
  }
}

/** Vault answered 503 "sealed": transient while vault-init re-unseals it. */
export class VaultSealedError extends AuroraError {
  constructor(cause?: unknown) {
    super('vault_sealed', 503, 'Vault is sealed; vault-init unseals it within seconds. Retry shortly.', {
      cause,
      retryAfter: 2,
    });
  }
}

/** Where to look when Vault does not answer, on the stack this process runs in. */
function vaultLogHint(): string {
  const commands = stackCommands();
  return commands.kind === 'compose' ? `make ps / ${commands.logs('vault')}` : commands.logs('vault');
}

/**
 * No answer from Vault (refused, reset, timed out). A timeout names `path` and the time waited: a Vault that runs
 * but is overloaded or stalled looks like this, and "is it running?" would send the user the wrong way.
 */
export class VaultUnreachableError extends AuroraError {
  constructor(addr: string, cause?: unknown, path?: string) {
    const timedOut = (cause as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
    super(
      'vault_unreachable',
      503,
      timedOut && path
        ? `Vault at ${addr} did not answer ${path} in time (${(cause as Error).message}). Is it overloaded or ` +
            `stalled? (${vaultLogHint()})`
        : `Vault at ${addr} did not answer. Is it running? (${vaultLogHint()})`,
      { cause, retryAfter: 2 },
    );
  }
}

/** Vault refused the token for this path: a policy or login problem, not the caller's fault. */
export class VaultForbiddenError extends AuroraError {
  constructor(path: string, cause?: unknown) {
    super('vault_forbidden', 502, `Vault denied access to ${path}: check the policy (vault/policies) and the token`, {
      cause,
    });
  }
}

export class VaultNotFoundError extends AuroraError {
  constructor(path: string, cause?: unknown) {
    super('vault_not_found', 404, `nothing stored in Vault at ${path}`, { cause });
  }
}

/** KV v2 check-and-set mismatch. */
export class VaultConflictError extends AuroraError {
  constructor(path: string, cause?: unknown) {
    super('vault_conflict', 409, `version mismatch writing ${path} (check-and-set)`, { cause });
  }
}

/** Any other Vault answer we did not expect. */
export class VaultRequestError extends AuroraError {
  readonly vaultStatus: number;
  /** Vault's own first error message (never a secret value). */
  readonly vaultMessage: string;
  constructor(path: string, vaultStatus: number, vaultMessage: string, cause?: unknown) {
    super('vault_error', vaultStatus >= 500 ? 503 : 502, `Vault answered ${vaultStatus} for ${path}: ${vaultMessage}`, {
      cause,
      retryAfter: vaultStatus >= 500 ? 2 : undefined,
    });
    this.vaultStatus = vaultStatus;
    this.vaultMessage = vaultMessage;
  }
}

/**
 * Vault's words for a Raft cluster between leaders: the node lost leadership while committing, or a standby
 * does not know the new active node yet. They pass within an election (seconds); the same call then succeeds.
 */
const RAFT_TRANSITION = /leadership lost|local node not active|active cluster node not found|node is not the leader/i;

/** True for Vault's message (an API error, or the CLI's output) saying only that Raft is changing leaders. */
export function isRaftTransitionMessage(message: string): boolean {
  return RAFT_TRANSITION.test(message);
}

/** True for an answer that only says the Raft cluster is changing leaders (see RAFT_TRANSITION). */
export function isRaftTransition(err: unknown): boolean {
  return err instanceof VaultRequestError && err.vaultStatus >= 500 && isRaftTransitionMessage(err.vaultMessage);
}

/**
 * Vault's bare 500 "internal error": what it answers when it refuses a request it cannot audit (no audit device
 * took the line: a full disk, or a device left half-enabled by a cut-off request, for a few seconds). Any other
 * 500 names what broke (e.g. "invalid ciphertext" for a damaged storage entry). vault-diagnosis.ts tells the
 * audit case apart from a standby without an active node.
 */
export function isBareInternalError(err: unknown): err is VaultRequestError {
  return err instanceof VaultRequestError && err.vaultStatus === 500 && err.vaultMessage === 'internal error';
}

/** PostgreSQL unreachable or failing: transient from the caller's point of view. */
export class DatabaseUnavailableError extends AuroraError {
  constructor(cause?: unknown) {
    super('database_unavailable', 503, 'PostgreSQL is unavailable. Retry shortly.', { cause, retryAfter: 2 });
  }
}

/**
 * The PostgreSQL credentials Vault leased to the app have ended and Vault could not issue new ones (it is
 * down, sealed or refusing): connections would be refused, so requests get a 503 naming the cause.
 */
export class DatabaseCredentialsExpiredError extends AuroraError {
  constructor(cause: string) {
    super(
      'database_credentials_expired',
      503,
      `PostgreSQL credentials from Vault have expired: ${cause}. Retry shortly.`,
      {
        retryAfter: 5,
      },
    );
  }
}

/** What `VaultRefusingError` says when Vault fails authenticated requests while it reports itself healthy. */
export const AUDIT_LOG_DIAGNOSIS = 'Vault refuses requests: its audit log cannot be written — disk full?';

/**
 * Vault answers 500 to authenticated requests while `sys/health` (unauthenticated, never audited) says it is
 * initialized and unsealed. The likely cause is that no audit device can write: Vault fails every audited
 * request rather than serve it unaudited. Not the token's fault, and not fixed by logging in again.
 */
export class VaultRefusingError extends AuroraError {
  readonly diagnosis: string;
  constructor(diagnosis: string, cause?: unknown) {
    super(
      'vault_refusing',
      503,
      `${diagnosis} (Vault answers 500 to authenticated requests while it reports itself unsealed.) ` +
        `Check its log (${stackCommands().logs('vault')}) and the free space where the audit log lives (${stackCommands().auditLog}); ` +
        'Vault serves again by itself once it can write.',
      { cause, retryAfter: 5 },
    );
    this.diagnosis = diagnosis;
  }
}
