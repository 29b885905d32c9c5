/**
 * Writes the Vault agent's config for compose (vault/agent/agent.hcl) from vault/agent/secrets.json; the
 * rendering itself is @aurora/process's agent-config.ts.
 *
 *   npm run gen:agent                 write vault/agent/agent.hcl (what compose mounts)
 *   npm run gen:agent -- --check      exit 1 when the committed file differs from what would be generated
 *   AGENT_RENDER_INTERVAL=10s npm run gen:agent -- --out /tmp/agent.hcl
 */
import fs from 'node:fs';
import path from 'node:path';
import { AGENT_HCL_FILE, COMPOSE_AGENT_OPTIONS, readObjects, renderAgentConfig } from '@aurora/process';

function main(argv: string[]): void {
  const check = argv.includes('--check');
  const outIndex = argv.indexOf('--out');
  const out = outIndex >= 0 ? argv[outIndex + 1] : AGENT_HCL_FILE;
  if (!out) throw new Error('--out needs a file name');
  const interval = process.env.AGENT_RENDER_INTERVAL?.trim();
  const text = renderAgentConfig(readObjects(), {
    ...COMPOSE_AGENT_OPTIONS,
    ...(interval ? { renderInterval: interval } : {}),
  });
  if (check) {
    const current = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
    if (current !== text) {
      process.stderr.write(`${path.relative(process.cwd(), out)} is out of date: run npm run gen:agent\n`);
      process.exit(1);
    }
    return;
  }
  fs.writeFileSync(out, text);
  process.stderr.write(
    `wrote ${path.relative(process.cwd(), out)} (${readObjects().length} objects, render interval ${interval ?? COMPOSE_AGENT_OPTIONS.renderInterval})\n`,
  );
}

try {
  main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`gen-agent-config: ${(err as Error).message}\n`);
  process.exit(1);
}
