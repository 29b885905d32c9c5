/** What most vault-init stories start from: a fresh Vault, vault-init's own directories and its environment. */
import fs from 'node:fs';
import path from 'node:path';
import { VaultClient } from '@aurora/common';
import { startVault, vaultInitDirs, vaultInitEnv, type VaultInitDirs, type VaultServer } from '@aurora/process';

export interface VaultInitScene {
  /** A fresh, uninitialized Vault (the pinned binary on a free port); the test stops it. */
  vault: VaultServer;
  /** vault-init's init, AppRole and CLI directories, empty. */
  dirs: VaultInitDirs;
  /** vault-init's environment for that Vault and those directories, with `overrides` on top. */
  env: Record<string, string>;
}

/** Starts a fresh Vault and prepares vault-init's directories and environment for it (settings in `overrides`). */
export async function vaultInitScene(overrides: Record<string, string> = {}): Promise<VaultInitScene> {
  const vault = await startVault();
  const dirs = vaultInitDirs();
  return { vault, dirs, env: await vaultInitEnv(vault, dirs, overrides) };
}

/** A client for `vault` holding the root token vault-init wrote to init.json in `dirs` (after a successful run). */
export function initRootClient(vault: VaultServer, dirs: VaultInitDirs, timeoutMs = 30_000): VaultClient {
  const init = JSON.parse(fs.readFileSync(path.join(dirs.initDir, 'init.json'), 'utf8')) as { root_token: string };
  return new VaultClient({ addr: vault.addr, token: init.root_token, timeoutMs });
}
