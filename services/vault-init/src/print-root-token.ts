/**
 * `node dist/print-root-token.js` (what `make root-token` runs in the vault-init container): a fresh root token from
 * the unseal keys in init.json (read through the init store at VAULT_INIT_DIR), made with Vault's generate-root
 * flow at VAULT_ADDR (with VAULT_HA_ADDRS: at the cluster's active node instead), printed once on stdout and
 * nothing else. Notes go to stderr and never hold a key or a token. The token does not expire: revoke it after
 * use (`VAULT_TOKEN=<it> vault token revoke -self`).
 * Exit codes: 0 printed · 2 bad configuration · 4 init material problem · 1 anything else.
 */
import { ConfigError, VaultClient, redactString } from '@aurora/common';
import { findActive } from './cluster.js';
import { loadConfig } from './config.js';
import { EXIT, VaultInitError } from './errors.js';
import { createInitStore } from './init-store.js';

const say = (msg: string) => process.stderr.write(`[root-token] ${redactString(msg)}\n`);

async function main(): Promise<number> {
  // Every setting as vault-init itself reads them: VAULT_ADDR, VAULT_HA_ADDRS, the init store's.
  const config = loadConfig(process.env, []);
  const store = createInitStore(config);
  const material = await store.read();
  // HA profile: VAULT_ADDR is then the `vault-ha` alias, which DNS answers with any running node, one that is
  // still sealed after a restart included, and a standby cannot forward while the leader is gone (it redirects
  // to the dead node). Every generate-root call is served by the active node anyway (standbys forward them), so
  // go there directly, found the way vault-init finds it (waiting out an election).
  const addr =
    config.haAddrs.length > 0
      ? (await findActive(config.haAddrs.map((a) => new VaultClient({ addr: a, timeoutMs: 3000 })))).addr
      : config.vaultAddr;
  const vault = new VaultClient({ addr, timeoutMs: 10_000 });
  const { token, cancelledPrevious, keysUsed } = await vault.generateRoot.rootToken(material.keys_base64);
  if (cancelledPrevious) say('an unfinished generate-root attempt was in progress: cancelled it');
  say(
    `generated a new root token with ${keysUsed} unseal key(s) from ${store.location} at ${addr}. It is printed once, below; it does not expire.`,
  );
  say('Use it for the job only root may do, then revoke it: VAULT_TOKEN=<token> vault token revoke -self');
  process.stdout.write(`${token}\n`);
  return EXIT.ok;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    say(err instanceof Error ? err.message : String(err));
    process.exitCode =
      err instanceof VaultInitError ? err.exitCode : err instanceof ConfigError ? EXIT.config : EXIT.unexpected;
  },
);
