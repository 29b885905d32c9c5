/**
 * Settings declared once: name, default, validation and one line of doc, per setting. A service's schema is a
 * record of these (services/<name>/src/settings.ts); its config loader reads them (readSettings), and a unit
 * test holds .env.example and the compose files' `${NAME:-default}`s to them. Problems are collected by an
 * EnvReader, so a bad variable still stops the process with its name, what was wrong and an example.
 */
import { EnvReader } from './env.js';
import { SEGMENT_RULE, isSafeSegment } from './reference.js';

export interface Setting<T> {
  /** The environment variable. */
  readonly name: string;
  /** One line: what it is and why it exists. */
  readonly doc: string;
  /** The default as an env file writes it ('' when unset means "none"). */
  readonly defaultText: string;
  /** Reads and validates the variable; a problem is recorded on `r` and the default returned. */
  read(r: EnvReader): T;
}

/** The value type a schema's loader gets, key by key. */
export type SettingsOf<S extends Record<string, Setting<unknown>>> = {
  [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

/** Reads every setting of `schema`, in declaration order (so problems are listed in that order). */
export function readSettings<S extends Record<string, Setting<unknown>>>(schema: S, r: EnvReader): SettingsOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(schema)) out[key] = s.read(r);
  return out as SettingsOf<S>;
}

/** Declares settings with EnvReader's parsing and messages. */
export const setting = {
  string(name: string, fallback: string, doc: string, check?: { pattern: RegExp; example: string }): Setting<string> {
    return { name, doc, defaultText: fallback, read: (r) => r.string(name, fallback, check) };
  },
  /** No default: undefined when unset or empty. */
  optional(name: string, doc: string): Setting<string | undefined> {
    return { name, doc, defaultText: '', read: (r) => r.optional(name) };
  },
  int(name: string, fallback: number, range: { min: number; max: number }, doc: string): Setting<number> {
    return { name, doc, defaultText: String(fallback), read: (r) => r.int(name, fallback, range) };
  },
  bool(name: string, fallback: boolean, doc: string): Setting<boolean> {
    return { name, doc, defaultText: String(fallback), read: (r) => r.bool(name, fallback) };
  },
  url(name: string, fallback: string, doc: string): Setting<string> {
    return { name, doc, defaultText: fallback, read: (r) => r.url(name, fallback) };
  },
  /** One or more safe path segments joined by "/" (one when `segments` is 'one'), as Vault paths need. */
  vaultPath(name: string, fallback: string, segments: 'one' | 'many', doc: string): Setting<string> {
    return {
      name,
      doc,
      defaultText: fallback,
      read: (r) => {
        const v = r.string(name, fallback);
        const parts = segments === 'one' ? [v] : v.split('/');
        if (!parts.every(isSafeSegment) || (segments === 'one' && v.includes('/')))
          r.problem(
            `${name}=${JSON.stringify(v)} must be ${segments === 'one' ? 'one path segment' : 'one or more path segments joined by "/"'} of ${SEGMENT_RULE}; example: ${name}=${fallback}`,
          );
        return v;
      },
    };
  },
};

/** The KV v2 mount and base path of user credentials: vault-init creates them, the app reads and writes there. */
export const KV_SETTINGS = {
  kvMount: setting.vaultPath('VAULT_KV_MOUNT', 'aurora', 'one', 'KV v2 mount of user credentials'),
  kvBasePath: setting.vaultPath('VAULT_KV_BASE_PATH', 'users', 'many', 'base path of user credentials in the mount'),
};

/**
 * Which stack runs this process (stack-commands.ts): the commands messages name. Declared by each service so that a
 * wrong value stops it at start.
 */
export const STACK_SETTING = setting.string(
  'AURORA_STACK',
  'compose',
  'which stack runs this process (compose | native | kubernetes): the commands messages name (logs, vault CLI)',
  { pattern: /^(compose|native|kubernetes)$/, example: 'native' },
);
