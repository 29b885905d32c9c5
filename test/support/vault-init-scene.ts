/** What most vault-init stories start from: a fresh Vault, vault-init's own directories and its environment. */
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
