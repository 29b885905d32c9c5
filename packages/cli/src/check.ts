/**
 * `aurora-secrets check` and `aurora-secrets resolve`: the read-only commands. `check` lists each reference of
 * an environment with its state (found / not found / denied / invalid / unavailable), never a value;
 * `resolve` prints the value of one reference, for scripts.
 */
import { CliError, EXIT_NOT_STARTED } from './cli-error.js';
import type { CliVaultSettings } from './config.js';
import { loadEnvironment } from './env-file.js';
import { referenceNames, resolveReference, type ReferenceOutcome, type SecretReads } from './resolve-env.js';
import { VaultSession } from './vault-session.js';

/** The word `check` prints for an outcome. */
export function statusWord(outcome: ReferenceOutcome): string {
  switch (outcome.status) {
    case 'found':
      return 'found';
    case 'not-found':
      return 'not found';
    default:
      return outcome.status;
  }
}

/**
 * Lists every reference of the environment built from `envFiles` and `baseEnv` on `out`, one line each:
 * `NAME<TAB>STATUS<TAB>REFERENCE`, with the reason under each one that is not found. Resolves with 0 when all
 * are found, 2 otherwise.
 */
export async function checkCommand(
  envFiles: string[],
  settings: CliVaultSettings,
  out: NodeJS.WritableStream,
  baseEnv: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const env = loadEnvironment(envFiles, baseEnv);
  const names = referenceNames(env);
  if (names.length === 0) {
    out.write('no vault: references found\n');
    return 0;
  }
  const session = await VaultSession.open(settings);
  try {
    const reads: SecretReads = new Map();
    const outcomes = await Promise.all(names.map((name) => resolveReference(session, name, env[name]!, reads)));
    const width = Math.max(...names.map((n) => n.length));
    let bad = 0;
    for (const o of outcomes) {
      const version = o.status === 'found' ? ` (version ${o.version})` : '';
      out.write(`${o.name.padEnd(width)}  ${(statusWord(o) + version).padEnd(20)}  ${o.text}\n`);
      if (o.status !== 'found') {
        bad++;
        out.write(`${' '.repeat(width)}  ↳ ${o.message}\n`);
      }
    }
    return bad === 0 ? 0 : EXIT_NOT_STARTED;
  } finally {
    session.stop();
  }
}

/** Resolves one reference and returns its value; throws CliError with the reason when it cannot. */
export async function resolveCommand(reference: string, settings: CliVaultSettings): Promise<string> {
  if (!reference.startsWith('vault:'))
    throw new CliError(`"${reference.slice(0, 200)}" is not a vault: reference; example: vault:kv/data/aurora/x#key`);
  const session = await VaultSession.open(settings);
  try {
    const outcome = await resolveReference(session, 'reference', reference);
    if (outcome.status !== 'found') throw new CliError(outcome.message);
    return outcome.value;
  } finally {
    session.stop();
  }
}
