import fs from 'node:fs';
import path from 'node:path';

/** NAME from the environment, else from the checkout's .env (as compose reads it), else undefined. */
export function fromDotEnv(root: string, name: string): string | undefined {
  if (process.env[name]) return process.env[name];
  try {
    const line = fs
      .readFileSync(path.join(root, '.env'), 'utf8')
      .split('\n')
      .reverse()
      .find((l) => l.trim().startsWith(`${name}=`));
    return (
      line
        ?.split('=')
        .slice(1)
        .join('=')
        .trim()
        .replace(/^["']|["']$/g, '') || undefined
    );
  } catch {
    return undefined;
  }
}
