/**
 * The stack an operation acts on, as a StackTarget. Which stack it is (AURORA_STACK=native|compose, else the
 * one found running) is decided by which-stack.sh, the one place doctor.sh asks too.
 */
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BackupError } from './archive.js';
import { ComposeTarget } from './compose-target.js';
import { nativeTarget } from './native-target.js';
import type { StackTarget } from './stack-target.js';

export type StackKind = 'native' | 'compose';

function composeCommand(): string | undefined {
  if (process.env.COMPOSE) return process.env.COMPOSE;
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return 'docker compose';
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return 'docker-compose';
  return undefined;
}

/**
 * Which stack: `native` or `compose` (single node or HA), as scripts/ops/which-stack.sh decides it; `fallback`
 * is what to take when there is no stack at all (`none`: a BackupError, exit code 2, saying how to start one).
 */
export function stackKind(root: string, fallback: 'native' | 'none'): StackKind {
  const res = spawnSync(path.join(root, 'scripts', 'ops', 'which-stack.sh'), [fallback], { encoding: 'utf8' });
  const kind = res.stdout?.trim();
  if (res.status === 0 && (kind === 'native' || kind === 'compose')) return kind;
  throw new BackupError(
    (res.stderr ?? '').trim() || `scripts/ops/which-stack.sh failed (${res.error?.message ?? `exit ${res.status}`})`,
    2,
  );
}

/** The StackTarget of the stack `stackKind` names. */
export function selectTarget(root: string, fallback: 'native' | 'none'): StackTarget {
  if (stackKind(root, fallback) === 'native') return nativeTarget(root);
  if (!composeCommand())
    throw new BackupError(
      'The stack is the compose one, but neither `docker compose` nor `docker-compose` is installed.',
      2,
    );
  return new ComposeTarget(root);
}
