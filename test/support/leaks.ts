/**
 * The secrets a stack's files hold and the log lines that would leak them: every test that runs vault-init
 * scans all output it saw for these at the end.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { VaultInitDirs } from '@aurora/process';

/** Every key and token vault-init handles, read from the files it wrote: what must never appear in its logs. */
export function secretsOnDisk(dirs: VaultInitDirs): string[] {
  const out: string[] = [];
  const read = (f: string) => {
    try {
      return fs.readFileSync(f, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const init = read(path.join(dirs.initDir, 'init.json'));
  if (init) {
    const m = JSON.parse(init) as { keys?: string[]; keys_base64?: string[]; root_token?: string };
    out.push(...(m.keys ?? []), ...(m.keys_base64 ?? []));
    if (m.root_token) out.push(m.root_token);
  }
  for (const f of [
    path.join(dirs.approleDir, 'app', 'secret_id'),
    path.join(dirs.approleDir, 'agent', 'secret_id'),
    path.join(dirs.cliDir, '.vault-token'),
    path.join(dirs.cliDir, 'metrics-token'),
  ]) {
    const v = read(f);
    if (v) out.push(v);
  }
  return out;
}

/**
 * Lines of `output` that hold any of `secrets` or anything shaped like a Vault token, except the banner's
 * `Root Token: ` line (the one place the root token is meant to be printed).
 */
export function leakedLines(output: string, secrets: string[]): string[] {
  const token = /\bhv[sbr]\.[A-Za-z0-9_-]{20,}/;
  return output.split('\n').filter((line) => {
    if (/^Root Token: hvs\.[A-Za-z0-9_-]+$/.test(line)) return false;
    return token.test(line) || secrets.some((s) => s.length >= 8 && line.includes(s));
  });
}

/** `pid`'s environment and command line (/proc/<pid>/environ and cmdline, NUL-separated); '' when it is gone. */
export function processTraces(pid: number | undefined): string {
  if (!pid) return '';
  const read = (f: string) => {
    try {
      return fs.readFileSync(`/proc/${pid}/${f}`, 'latin1');
    } catch {
      return '';
    }
  };
  return `${read('environ')}\n${read('cmdline')}`;
}
