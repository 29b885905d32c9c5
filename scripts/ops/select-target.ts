/**
 * Which stack a command acts on: BACKUP_TARGET=native|compose decides; otherwise the compose stack (that of
 * make prod-local or of make prod-local-ha: the one owning the `vault` container) when that container is
 * running, the native one when .native/ holds a Vault, the compose one when its containers exist (stopped),
 * and `fallback` when there is no stack at all.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BackupError } from './archive.js';
import { nativeDir, nativeTarget } from './native-target.js';
import { ComposeTarget, type StackTarget } from './targets.js';

function composeCommand(): string | undefined {
  if (process.env.COMPOSE) return process.env.COMPOSE;
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return 'docker compose';
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return 'docker-compose';
  return undefined;
}

function container(name: string): 'running' | 'stopped' | undefined {
  const res = spawnSync('docker', ['inspect', '-f', '{{.State.Running}}', name], { encoding: 'utf8' });
  if (res.error || res.status !== 0) return undefined;
  return res.stdout.trim() === 'true' ? 'running' : 'stopped';
}

export function selectTarget(root: string, fallback: 'native' | 'none'): StackTarget {
  const wanted = process.env.BACKUP_TARGET;
  const compose = () => {
    if (!composeCommand())
      throw new BackupError(
        'BACKUP_TARGET=compose, but neither `docker compose` nor `docker-compose` is installed.',
        2,
      );
    return new ComposeTarget(root);
  };
  if (wanted === 'compose') return compose();
  if (wanted === 'native') return nativeTarget(root);
  if (wanted) throw new BackupError(`BACKUP_TARGET must be native or compose, not ${JSON.stringify(wanted)}.`, 2);
  const vault = container('vault');
  if (vault === 'running') return compose();
  if (fs.existsSync(path.join(nativeDir(root), 'vault', 'data'))) return nativeTarget(root);
  if (vault === 'stopped') return compose();
  if (fallback === 'native') return nativeTarget(root);
  throw new BackupError(
    'No stack found: neither a compose stack (container vault) nor a native one (.native/vault/data). Start one with make prod-local or make native.',
    2,
  );
}
