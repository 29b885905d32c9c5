/**
 * `make root-token`: a fresh root token from the unseal keys in init.json (Vault's generate-root flow with a
 * server-made OTP), printed once on stdout, for the rare job only root may do. Revoke it afterwards:
 * `VAULT_TOKEN=<it> vault token revoke -self`.
 *
 * Where the keys come from:
 *   ROOT_TOKEN_INIT_FILE=…  (or --init-file FILE)  that file, with VAULT_ADDR (default the native Vault);
 *   --init-stdin                                    init.json on stdin;
 *   otherwise the stack scripts/ops/which-stack.sh names (AURORA_STACK=compose|native, else the one running):
 *   compose — inside the vault-init container with `node dist/print-root-token.js` (the keys never leave the
 *   container); native — .native/init/init.json, http://127.0.0.1:$NATIVE_VAULT_PORT.
 * Nothing but the token is printed on stdout; notes go to stderr and never hold a key or a token.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '@aurora/process';
import { nativeDir, nativeVaultAddr } from './ops/native-target.js';
import { stackKind } from './ops/select-target.js';
import { opsClient, readInitMaterial, type InitFileKeys } from './ops/vault-api.js';
import { runMain } from './ops/command-main.js';

const say = (msg: string) => process.stderr.write(`[root-token] ${msg}\n`);

async function main(): Promise<number> {
  const root = repoRoot();
  const args = process.argv.slice(2);
  const fileArg = args.indexOf('--init-file');
  let initFile = fileArg >= 0 ? args[fileArg + 1] : process.env.ROOT_TOKEN_INIT_FILE;
  let addr = process.env.VAULT_ADDR || undefined;
  let material: InitFileKeys;

  if (args.includes('--init-stdin')) {
    material = readInitMaterial(fs.readFileSync(0, 'utf8'), 'init.json on stdin');
    addr ??= nativeVaultAddr();
  } else if (initFile) {
    material = readInitMaterial(fs.readFileSync(initFile, 'utf8'), initFile);
    addr ??= nativeVaultAddr();
  } else if (stackKind(root, 'native') === 'compose') {
    // vault-init's own command: the keys never leave the container.
    say('compose: running `node dist/print-root-token.js` inside the vault-init container');
    const res = spawnSync('docker', ['exec', 'vault-init', 'node', 'dist/print-root-token.js'], { stdio: 'inherit' });
    return res.status ?? 1;
  } else {
    initFile = path.join(nativeDir(root), 'init', 'init.json');
    if (!fs.existsSync(initFile))
      throw new Error(
        `no stack found: no compose stack runs and ${initFile} does not exist (start one: make prod-local or make native)`,
      );
    material = readInitMaterial(fs.readFileSync(initFile, 'utf8'), initFile);
    addr ??= nativeVaultAddr();
  }

  const { token, cancelledPrevious, keysUsed } = await opsClient(addr).generateRoot.rootToken(material.keys_base64);
  if (cancelledPrevious) say('an unfinished generate-root attempt was in progress: cancelled it');
  say(`generated a new root token with ${keysUsed} unseal key(s). It is printed once, below; it does not expire.`);
  say('Use it for the job only root may do, then revoke it: VAULT_TOKEN=<token> vault token revoke -self');
  process.stdout.write(`${token}\n`);
  return 0;
}

runMain(main, say);
