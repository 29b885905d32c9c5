/** An init.json that belongs to another Vault: what a mixed-up restore or a copied volume leaves behind. */
import fs from 'node:fs';
import { initAndUnseal, startVault } from '@aurora/process';

/**
 * Starts a throwaway Vault, initializes it with `shares`/`threshold`, writes its init material (keys and root
 * token, in vault-init's init.json format, mode 0600) to `initFile`, and stops it again.
 */
export async function writeForeignInitFile(initFile: string, shares: number, threshold: number): Promise<void> {
  const other = await startVault();
  try {
    const foreign = await initAndUnseal(other, shares, threshold);
    fs.writeFileSync(
      initFile,
      JSON.stringify({ keys_base64: foreign.keys, root_token: foreign.rootToken, shares, threshold }),
      { mode: 0o600 },
    );
  } finally {
    await other.stop();
  }
}
