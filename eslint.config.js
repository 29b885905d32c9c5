// ESLint flat config: typescript-eslint's recommended rules, plus the project's one import rule.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Only the wrapper in packages/common may import node-vault: its quirks stay in one place.
const RESTRICTED_PATHS = [{ name: 'node-vault', message: 'use VaultClient from @aurora/common' }];
// A package is reached by its name (@aurora/common, @aurora/process, @aurora/app/<module>,
// @aurora/vault-init/<module>), never by a relative path into its folder: the `aurora-source` export condition
// serves the source.
const PACKAGE_BY_NAME = [
  {
    regex: '^(\\.\\./)+(packages|services)/',
    message: 'import the workspace package by its name (@aurora/...), not by a relative path into it',
  },
];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.native/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        AbortSignal: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Prettier wraps code at 120 columns; comments are held to the same width here (Prettier leaves them alone).
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
      // Vault's HTTP API is spoken by the one client in packages/common only: no fetch, node:http, wget or curl to
      // a /v1/ path anywhere else (a URL or a template holding a Vault API path is the tell).
      'no-restricted-syntax': [
        'error',
        {
          selector: 'TemplateElement[value.raw=/\\/v1\\//]',
          message: 'speak to Vault through VaultClient (@aurora/common), not by hand',
        },
        {
          selector: 'Literal[value=/(:\\/\\/|VAULT_ADDR)\\S*\\/v1\\//]',
          message: 'speak to Vault through VaultClient (@aurora/common), not by hand',
        },
      ],
      'no-restricted-imports': ['error', { paths: RESTRICTED_PATHS, patterns: PACKAGE_BY_NAME }],
    },
  },
  {
    // Tests are built on the packages and scripts, never the other way round: what a script, the bench or a
    // package needs of the test support lives in a package (@aurora/process for processes and stacks).
    files: ['scripts/**', 'bench/**', 'packages/**', 'services/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: RESTRICTED_PATHS,
          patterns: [
            ...PACKAGE_BY_NAME,
            {
              regex: '^(\\.\\./)+test/',
              message: 'scripts, the bench and the packages never import from test/; use @aurora/process or a package',
            },
          ],
        },
      ],
    },
  },
  {
    // The one Vault client: it alone imports node-vault and builds Vault URLs (vault/binary.ts for snapshots).
    files: ['packages/common/src/vault-client.ts', 'packages/common/src/vault/**'],
    rules: { 'no-restricted-imports': 'off', 'no-restricted-syntax': 'off' },
  },
);
