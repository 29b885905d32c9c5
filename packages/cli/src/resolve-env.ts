/**
 * Resolving `vault:` references in an environment: every value that starts with `vault:` must be
 * `vault:kv/data/<mount>/<path>#<key>` (without `#<key>`: the secret's only key) and is replaced by that value,
 * read through the one Vault client; everything else passes through unchanged.
 *
 * Each reference ends in exactly one outcome. Problems carry a message that names the variable and the
 * reference and says what to do; no message ever contains a value.
 */
import {
  AuroraError,
  VaultForbiddenError,
  VaultNotFoundError,
  VaultSealedError,
  VaultUnreachableError,
  formatVaultReference,
  parseVaultKeyReference,
  type KvSecret,
  type VaultClient,
  type VaultKeyReference,
} from '@aurora/common';

/** What marks a value as a reference to resolve. */
export const VAULT_VALUE_PREFIX = 'vault:';
const EXAMPLE = 'vault:kv/data/aurora/users/u1/github#token';

export type ProblemStatus = 'invalid' | 'not-found' | 'denied' | 'unavailable';

export interface ResolvedReference {
  status: 'found';
  /** The variable's name (or, for `resolve`, the word "reference"). */
  name: string;
  /** The reference as written. */
  text: string;
  mount: string;
  path: string;
  /** The key whose value was taken (the only key when the reference names none). */
  key: string;
  /** KV v2 version the value was read from. */
  version: number;
  value: string;
}

export interface ReferenceProblem {
  status: ProblemStatus;
  name: string;
  text: string;
  /** For the user: variable, reference, what is wrong, what to do. Never a value. */
  message: string;
  mount?: string;
  path?: string;
}

export type ReferenceOutcome = ResolvedReference | ReferenceProblem;

/** Who is asking and with which policies, for "denied" messages. */
export interface Requester {
  client: VaultClient;
  identity: string;
  policies: readonly string[];
}

/** Names of variables whose value is a reference, in the order of `env`. */
export function referenceNames(env: Record<string, string>): string[] {
  return Object.keys(env).filter((name) => env[name]!.startsWith(VAULT_VALUE_PREFIX));
}

/** A reference shown in a message: as written, cut short and quoted, so odd characters cannot mislead. */
function shown(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

/** Vault keeps KV values as JSON; a program's environment needs text. */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** One read per secret per pass, however many variables name it. */
export type SecretReads = Map<string, Promise<KvSecret>>;

function readOnce(reads: SecretReads, client: VaultClient, mount: string, path: string): Promise<KvSecret> {
  const id = `${mount}/${path}`;
  let p = reads.get(id);
  if (!p) {
    p = client.kvRead(mount, path);
    reads.set(id, p);
  }
  return p;
}

/** Parses the reference in variable `name`, or says what is wrong with it (no Vault needed). */
export function parseReference(name: string, text: string): VaultKeyReference | ReferenceProblem {
  try {
    return parseVaultKeyReference(text);
  } catch (err) {
    return {
      status: 'invalid',
      name,
      text,
      message:
        `${name}: ${shown(text)} is not a valid vault: reference (${(err as Error).message}); ` +
        `write vault:kv/data/<mount>/<path>#<key>, e.g. ${EXAMPLE}`,
    };
  }
}

/** The references in `env` that are malformed, each with its message: found before Vault is asked anything. */
export function malformedReferences(env: Record<string, string>): ReferenceProblem[] {
  return referenceNames(env)
    .map((name) => parseReference(name, env[name]!))
    .filter((r): r is ReferenceProblem => 'status' in r);
}

/** Resolves one reference; never throws for a problem of the reference itself (see ReferenceProblem). */
export async function resolveReference(
  requester: Requester,
  name: string,
  text: string,
  reads: SecretReads = new Map(),
): Promise<ReferenceOutcome> {
  const ref = parseReference(name, text);
  if ('status' in ref) return ref;
  const { mount, path } = ref;
  const where = { name, text, mount, path };
  const kvPath = `${mount}/data/${path}`;
  let secret: KvSecret;
  try {
    secret = await readOnce(reads, requester.client, mount, path);
  } catch (err) {
    if (err instanceof VaultNotFoundError)
      return {
        status: 'not-found',
        ...where,
        message:
          `${name}: nothing is stored at ${shown(text)} (KV v2 path ${kvPath}, or no KV v2 mount "${mount}"): ` +
          `write it with \`vault kv put -mount=${mount} ${path} <key>=<value>\` or fix the reference`,
      };
    if (err instanceof VaultForbiddenError)
      return {
        status: 'denied',
        ...where,
        message:
          `${name}: Vault denied reading ${shown(text)} to ${requester.identity}` +
          (requester.policies.length ? ` (policies: ${requester.policies.join(', ')})` : '') +
          `: a policy must grant "read" on path "${kvPath}" (see vault/policies/), or there is no mount ` +
          `"${mount}"; check the reference or use an identity allowed to read it`,
      };
    if (err instanceof VaultSealedError || err instanceof VaultUnreachableError)
      return { status: 'unavailable', ...where, message: `${name}: cannot read ${shown(text)}: ${err.message}` };
    if (err instanceof AuroraError)
      return { status: 'unavailable', ...where, message: `${name}: cannot read ${shown(text)}: ${err.message}` };
    throw err;
  }
  const keys = Object.keys(secret.data);
  const secretName = shown(formatVaultReference({ mount, path }));
  let key = ref.key;
  if (key === undefined) {
    if (keys.length !== 1)
      return {
        status: keys.length === 0 ? 'not-found' : 'invalid',
        ...where,
        message:
          keys.length === 0
            ? `${name}: the secret ${secretName} (version ${secret.version}) has no keys: write one, or fix the reference`
            : `${name}: ${shown(text)} names no key and the secret has ${keys.length} (${keys.join(', ')}): ` +
              `add the one you mean, e.g. ${formatVaultReference({ mount, path })}#${keys[0]}`,
      };
    key = keys[0]!;
  } else if (!Object.hasOwn(secret.data, key)) {
    return {
      status: 'not-found',
      ...where,
      message:
        `${name}: the secret ${secretName} (version ${secret.version}) has no key "${key}"` +
        (keys.length ? ` (its keys: ${keys.join(', ')})` : '') +
        ': fix the #key or add the key to the secret',
    };
  }
  return { status: 'found', ...where, key, version: secret.version, value: asText(secret.data[key]) };
}

export interface EnvironmentResolution {
  /** The input environment with every resolved reference replaced by its value (and allowed misses left out). */
  env: Record<string, string>;
  resolved: ResolvedReference[];
  /** Problems that stop the command. */
  problems: ReferenceProblem[];
  /** Not-found references left out because `allowMissing` was set. */
  skipped: ReferenceProblem[];
}

/**
 * Resolves every reference in `env` (all at once, one read per secret). With `allowMissing`, a reference to
 * a secret or key that does not exist is dropped from the environment instead of being a problem; invalid,
 * denied and unavailable references are problems either way.
 */
export async function resolveEnvironment(
  requester: Requester,
  env: Record<string, string>,
  options: { allowMissing?: boolean } = {},
): Promise<EnvironmentResolution> {
  const reads: SecretReads = new Map();
  const outcomes = await Promise.all(
    referenceNames(env).map((name) => resolveReference(requester, name, env[name]!, reads)),
  );
  const out: EnvironmentResolution = { env: { ...env }, resolved: [], problems: [], skipped: [] };
  for (const o of outcomes) {
    if (o.status === 'found') {
      out.resolved.push(o);
      out.env[o.name] = o.value;
    } else if (o.status === 'not-found' && options.allowMissing) {
      out.skipped.push(o);
      delete out.env[o.name];
    } else {
      out.problems.push(o);
    }
  }
  return out;
}
