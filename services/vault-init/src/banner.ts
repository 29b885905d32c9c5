/**
 * The banner users grep for (`docker logs vault-init 2>&1 | grep "Root Token:"`). It goes to stdout with
 * process.stdout.write, not through the logger: the logger would (rightly) mask the token. It is the one
 * place a token is ever printed, and only when VAULT_PRINT_ROOT_TOKEN allows it and VAULT_REVOKE_ROOT_TOKEN
 * has not revoked it (a revoked token is never printed: the banner says how to get a fresh one instead).
 */
export interface BannerInput {
  rootToken: string;
  printRootToken: boolean;
  /** VAULT_REVOKE_ROOT_TOKEN: the root token of init.json was revoked after configuration. */
  rootTokenRevoked?: boolean;
  uiUrl: string;
  initFile: string;
  kvMount: string;
  kvBasePath: string;
  /** How users run the CLI (compose: `docker exec -it vault vault`). */
  cliCommand: string;
  fresh: boolean;
}

const RULE = '===================================================';

export function renderBanner(b: BannerInput): string {
  const lines = [
    RULE,
    b.fresh
      ? 'Vault initialization complete!'
      : 'Vault initialization complete! (initialized earlier; unsealed and configured now)',
    b.rootTokenRevoked
      ? 'Root Token: revoked after setup (VAULT_REVOKE_ROOT_TOKEN=true). When a job needs root, get a fresh one: make root-token'
      : b.printRootToken
        ? `Root Token: ${b.rootToken}`
        : `The root token is not printed (VAULT_PRINT_ROOT_TOKEN=false): it is "root_token" in ${b.initFile}.`,
    b.rootTokenRevoked
      ? `Vault UI:   ${b.uiUrl}  (sign in with method "Token" and a token from \`make root-token\`; revoke it when done)`
      : `Vault UI:   ${b.uiUrl}  (sign in with method "Token" and the root token)`,
    `CLI:        ${b.cliCommand} kv list ${b.kvMount}/${b.kvBasePath}/`,
    '            (the CLI there already holds a limited operator token: no export, no login needed)',
    'The app does NOT need this token: it logs in with its own AppRole credentials, written by vault-init.',
    b.rootTokenRevoked
      ? `Unseal keys: ${b.initFile} (its root token no longer works). Back it up: losing it loses every secret.`
      : `Unseal keys and root token: ${b.initFile}. Back it up: losing it loses every secret.`,
    RULE,
  ];
  return `${lines.join('\n')}\n`;
}

export function printBanner(b: BannerInput): void {
  process.stdout.write(renderBanner(b));
}
