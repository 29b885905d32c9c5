#!/usr/bin/env -S node --
// `node --`: Node 20 reads --env-file anywhere on its command line, the script's own arguments included, so
// `aurora-secrets run --env-file .env` would make node itself load (or fail on) that file; `--` ends node's options.
// The `aurora-secrets` command: runs the compiled CLI (dist/, built by `make build` / `npx tsc --build`).
// A launcher rather than a bin pointing into dist/, so that npm links the command even before the first build
// and a missing build gets a message saying what to do instead of a module-not-found stack.
import fs from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!fs.existsSync(main)) {
  process.stderr.write('aurora-secrets: the CLI is not built yet: run `make build` (or `npx tsc --build`) first\n');
  process.exit(2);
}
await import(main.href);
