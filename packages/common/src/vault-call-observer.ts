/**
 * Every HTTP request the Vault client sends, reported to one observer (the app's metrics) with the kind of
 * operation, how it ended and how long it took. It wraps node-vault's `request`, the one function its read,
 * write, list and delete go through, so the client keeps a single request path and knows nothing of metrics.
 *
 * Labels are bounded by construction: the operation comes from the method and the path's shape (never the
 * path itself, which names users), the outcome from the HTTP status. Nothing of the request or answer body
 * is looked at.
 */
import { performance } from 'node:perf_hooks';

/** How a Vault request ended: the HTTP status class, or no answer at all. */
export type VaultCallOutcome =
  'ok' | 'sealed' | 'forbidden' | 'not_found' | 'client_error' | 'server_error' | 'unreachable';

/** One finished request. `seconds` is wall time from sending to the answer (or the network error). */
export interface VaultCall {
  operation: string;
  outcome: VaultCallOutcome;
  seconds: number;
}

export type VaultCallObserver = (call: VaultCall) => void;

let observer: VaultCallObserver | undefined;

/** Sets (or, with undefined, removes) the one observer of every Vault client in this process. */
export function observeVaultCalls(fn: VaultCallObserver | undefined): void {
  observer = fn;
}

const VERBS: Record<string, string> = {
  GET: 'read',
  LIST: 'list',
  DELETE: 'delete',
  POST: 'write',
  PUT: 'write',
  PATCH: 'patch',
};

/**
 * The operation's name from node-vault's method and path (`/aurora/data/users/u1/db?x` → `kv_read`):
 * KV v2 data and metadata by verb, logins, token self-service, and `sys_<endpoint>` for the sys/ API.
 */
export function vaultOperation(method: string, rawPath: string): string {
  const path = rawPath.replace(/^\/+/, '').split('?')[0] ?? '';
  const parts = path.split('/');
  if (parts[0] === 'sys') return `sys_${(parts[1] ?? 'unknown').replace(/-/g, '_')}`;
  if (parts[0] === 'auth') {
    if (parts[2] === 'login') return 'login';
    if (parts[1] === 'token' && parts[2]) return `token_${parts[2].replace(/-self$/, '').replace(/-/g, '_')}`;
    return 'auth_other';
  }
  const verb = VERBS[method] ?? 'other';
  if (parts[1] === 'data') return `kv_${verb}`;
  if (parts[1] === 'metadata') return `kv_metadata_${verb}`;
  return `other_${verb}`;
}

function outcomeOf(err: unknown): VaultCallOutcome {
  const res = (err as { response?: { statusCode?: number; body?: { errors?: unknown[] } } })?.response;
  const status = res?.statusCode;
  if (typeof status !== 'number') return 'unreachable';
  if (status === 503 && /sealed/i.test(String(res?.body?.errors?.[0] ?? ''))) return 'sealed';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  return status < 500 ? 'client_error' : 'server_error';
}

type Requester = { request(options: { method?: string; path?: string }): Promise<unknown> };

/** Wraps `raw.request` in place (node-vault's read/write/list/delete look it up on each call); returns `raw`. */
export function instrumentVaultRequests<T extends object>(raw: T): T {
  const target = raw as unknown as Requester;
  const send = target.request.bind(target);
  target.request = (options) => {
    const notify = observer;
    if (!notify) return send(options);
    const started = performance.now();
    const report = (outcome: VaultCallOutcome) => {
      try {
        notify({
          operation: vaultOperation(options.method ?? 'GET', options.path ?? ''),
          outcome,
          seconds: (performance.now() - started) / 1000,
        });
      } catch {
        // An observer's failure must never become a failed Vault request.
      }
    };
    return send(options).then(
      (value) => {
        report('ok');
        return value;
      },
      (err: unknown) => {
        report(outcomeOf(err));
        throw err;
      },
    );
  };
  return raw;
}
