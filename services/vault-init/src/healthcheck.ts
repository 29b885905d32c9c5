/**
 * The compose healthcheck (`node dist/healthcheck.js`): exit 0 when vault-init reports healthy (health.ts: Vault
 * unsealed and configured; on Raft, every node a voter), 1 otherwise. When not healthy it prints what vault-init
 * waits for: Docker keeps that line as the check's output (`docker inspect vault-init`), and `make prod-local-ha`
 * shows it in its progress line. Separate from main.ts so that it loads nothing but node:http.
 */
import http from 'node:http';

const raw = process.env.VAULT_INIT_HEALTH_PORT?.trim();
const port = raw ? Number(raw) : 8201;

const req = http.get({ host: '127.0.0.1', port, path: '/health', timeout: 2000 }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => (body += chunk));
  res.on('end', () => {
    if (res.statusCode === 200) process.exit(0);
    let waitingFor: string | undefined;
    try {
      waitingFor = (JSON.parse(body) as { waitingFor?: string }).waitingFor;
    } catch {
      waitingFor = undefined;
    }
    process.stdout.write(`waiting for ${waitingFor ?? `vault-init's health (it answered ${res.statusCode})`}\n`);
    process.exit(1);
  });
});
req.on('timeout', () => {
  req.destroy();
  process.stdout.write("waiting for vault-init's health endpoint to answer\n");
  process.exit(1);
});
req.on('error', () => process.exit(1));
