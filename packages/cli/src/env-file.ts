/**
 * The environment a command starts with: dotenv files (parsed by dotenv, in the order given, a later file
 * overriding an earlier one) under the current environment, which wins, as with dotenv and node's --env-file.
 * A reference with `#key` must be quoted in a dotenv file (`X="vault:kv/data/a/b#key"`): unquoted, dotenv
 * takes `#` for a comment.
 */
import fs from 'node:fs';
import dotenv from 'dotenv';
import { CliError } from './cli-error.js';

/** Parses one dotenv file; throws CliError naming the file when it cannot be read. */
export function readEnvFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT'
        ? `--env-file ${file}: no such file`
        : `--env-file ${file}: cannot read it (${code ?? (err as Error).message})`,
    );
  }
  const parsed = dotenv.parse(text);
  refuseCutKeys(file, text, parsed);
  return parsed;
}

/**
 * dotenv reads an unquoted `#` as the start of a comment, so `X=vault:kv/data/a/b#key` arrives as
 * `vault:kv/data/a/b`: the key is silently lost and another key (or an error about several keys) would be
 * the result. Such a line is refused with the quoted form to write instead.
 */
function refuseCutKeys(file: string, text: string, parsed: Record<string, string>): void {
  const line = /^\s*(?:export\s+)?([\w.-]+)\s*=\s*(vault:[^\s#'"`]*)#(\S*)/gm;
  for (const m of text.matchAll(line)) {
    const [, name, reference, key] = m as unknown as [string, string, string, string];
    if (parsed[name] !== reference) continue;
    throw new CliError(
      `--env-file ${file}: ${name}: dotenv reads the unquoted "#${key}" as a comment, so the key would be lost; ` +
        `quote the value: ${name}="${reference}#${key}"`,
    );
  }
}

/**
 * Merges `files` (later ones override earlier ones) with `current` on top. Variables whose value is undefined
 * in `current` are left out.
 */
export function loadEnvironment(files: readonly string[], current: NodeJS.ProcessEnv): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const file of files) Object.assign(merged, readEnvFile(file));
  for (const [name, value] of Object.entries(current)) if (value !== undefined) merged[name] = value;
  return merged;
}
