/**
 * The environment a command starts with: dotenv files (parsed by dotenv, in the order given, a later file
 * overriding an earlier one) under the current environment, which wins, as with dotenv and node's --env-file.
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
  return dotenv.parse(text);
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
