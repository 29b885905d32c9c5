/**
 * The compose healthcheck (`node dist/healthcheck.js`): exit 0 when vault-init reports Vault unsealed and
 * configured, 1 otherwise. Separate from main.ts so that it loads nothing but node:http.
 */
import http from 'node:http';

const raw = process.env.VAULT_INIT_HEALTH_PORT?.trim();
const port = raw ? Number(raw) : 8201;

const req = http.get({ host: '127.0.0.1', port, path: '/health', timeout: 2000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => {
  req.destroy();
  process.exit(1);
});
req.on('error', () => process.exit(1));
