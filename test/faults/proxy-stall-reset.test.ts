// User story: the network between the app and Vault, then between the app and PostgreSQL, stalls (packets go
// nowhere, connections hang) and then resets (every connection refused with RST). A real TCP proxy sits in
// front of the real servers. During each fault API clients get 503 with Retry-After within the configured
// timeouts, never a 500 or a hang; after each the same app process acknowledges writes again. `doctor
// --repair` then leaves nothing dangling or orphaned, every write acknowledged with 2xx is readable, and no
// value leaked.
import path from 'node:path';
import { AppProcess } from '@aurora/process';
import { FaultProxy } from '../support/fault-proxy.js';
import { faultSuite } from './suite.js';

let vaultProxy: FaultProxy | undefined;
let pgProxy: FaultProxy | undefined;
const logs: string[] = [];

faultSuite({
  id: 'proxy-stall-reset',
  title: 'TCP proxy stalls and resets to Vault and to PostgreSQL',
  async prepare(stack) {
    vaultProxy = await FaultProxy.start('127.0.0.1', stack.vault.port);
    pgProxy = await FaultProxy.start(stack.postgres.host, stack.postgres.port);
    // The app (and doctor, which uses the app's env) now reach both servers through the proxies only.
    const direct = stack.app;
    logs.push(direct.logFile);
    await direct.stop();
    stack.app = await AppProcess.start(
      { ...direct.env, VAULT_ADDR: vaultProxy.url, PGPORT: String(pgProxy.port) },
      path.join(stack.dir, 'app-via-proxies'),
    );
    await stack.app.waitReady();
  },
  async scenario({ fault }) {
    const v = vaultProxy as FaultProxy;
    const p = pgProxy as FaultProxy;
    await fault(
      'Vault stalled',
      () => v.setMode('stall'),
      () => v.setMode('pass'),
    );
    await fault(
      'Vault connections reset',
      () => v.setMode('reset'),
      () => v.setMode('pass'),
    );
    // A stalled statement is answered 503 only once the app's query timeout (PG_STATEMENT_TIMEOUT_MS + 1 s,
    // 2 s here) has run out inside the stall: hold it well past that, so that every write sent in its first
    // 3 s must end in a 503, even on a loaded machine where the load sends few writes (authentication no longer
    // reads PostgreSQL, so only writes meet the stall).
    await fault(
      'PostgreSQL stalled',
      () => p.setMode('stall'),
      () => p.setMode('pass'),
      5000,
    );
    await fault(
      'PostgreSQL connections reset',
      () => p.setMode('reset'),
      () => p.setMode('pass'),
    );
  },
  logs: () => logs,
  async cleanup() {
    await vaultProxy?.close();
    await pgProxy?.close();
  },
});
